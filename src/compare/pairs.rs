//! Forks side by side: for every two, which files they changed alike, which differently and
//! which only one touched, and how similar their changed lines are; and the files several
//! forks touched, grouped by what each left there.

use std::collections::{BTreeMap, BTreeSet};

use similar::TextDiff;

use super::{Content, ForkChanges, Overlap, Pair, patch};

/// Every pair of forks, in order: (0,1), (0,2), ..., (1,2), ...
pub fn pairs(forks: &[ForkChanges]) -> Vec<Pair> {
    let mut wanted = Vec::new();
    for (i, a) in forks.iter().enumerate() {
        for b in &forks[i + 1..] {
            wanted.push((a, b));
        }
    }
    // Each pair's similarity is a line diff of its own: spread them over the cores.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = wanted.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let jobs: Vec<_> = wanted
            .chunks(chunk)
            .map(|some| {
                scope.spawn(move || some.iter().map(|(a, b)| pair(a, b)).collect::<Vec<_>>())
            })
            .collect();
        jobs.into_iter()
            .flat_map(|j| j.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// How fork `a` and fork `b` relate.
pub fn pair(a: &ForkChanges, b: &ForkChanges) -> Pair {
    let mut p = Pair {
        a: a.name.clone(),
        b: b.name.clone(),
        same: Vec::new(),
        differ: Vec::new(),
        only_a: Vec::new(),
        only_b: Vec::new(),
        similarity: similarity(&a.lines, &b.lines),
    };
    let paths: BTreeSet<&Vec<u8>> = a.touched.keys().chain(b.touched.keys()).collect();
    for path in paths {
        let shown = patch::shown(path);
        match (a.touched.get(path), b.touched.get(path)) {
            (Some(x), Some(y)) if x == y => p.same.push(shown),
            (Some(_), Some(_)) => p.differ.push(shown),
            (Some(_), None) => p.only_a.push(shown),
            (None, _) => p.only_b.push(shown),
        }
    }
    p
}

/// Files more than one fork touched, with the forks grouped by what they left there.
pub fn overlaps(forks: &[ForkChanges]) -> Vec<Overlap> {
    let mut by_path: BTreeMap<&Vec<u8>, Vec<(&String, &Content)>> = BTreeMap::new();
    for f in forks {
        for (path, now) in &f.touched {
            by_path.entry(path).or_default().push((&f.name, now));
        }
    }
    by_path
        .into_iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|(path, forks)| {
            let mut groups: Vec<(&Content, Vec<String>)> = Vec::new();
            for (name, now) in forks {
                match groups.iter_mut().find(|(n, _)| *n == now) {
                    Some((_, g)) => g.push(name.clone()),
                    None => groups.push((now, vec![name.clone()])),
                }
            }
            Overlap {
                path: patch::shown(path),
                groups: groups.into_iter().map(|(_, g)| g).collect(),
            }
        })
        .collect()
}

/// Ratio of matching changed lines, rounded to three decimals so it prints stably.
fn similarity(a: &[String], b: &[String]) -> f64 {
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let b: Vec<&str> = b.iter().map(String::as_str).collect();
    let ratio = f64::from(TextDiff::from_slices(&a, &b).ratio());
    (ratio * 1000.0).round() / 1000.0
}
