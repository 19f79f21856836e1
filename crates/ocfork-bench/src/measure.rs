//! Measuring one action: its wall time and the peak total RSS of the bench's process tree,
//! sampled from `/proc`; and summaries of repeated measurements (median and range).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How often the process tree's memory is sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(50);

/// What one measured action gave, how long it took and the most memory its processes held.
pub struct Measured<T> {
    pub value: T,
    pub secs: f64,
    /// Peak of the summed RSS of every descendant of the bench, in bytes.
    pub peak_rss: u64,
    /// Most memory mappings any one descendant held (`/proc/PID/maps` lines, sampled about
    /// once a second): a process at `vm.max_map_count` can no longer grow its heap.
    pub peak_maps: u64,
    /// CPU time (user + system) of the processes that ended meanwhile and were waited for,
    /// with everything they waited for. On a shared machine it varies far less than wall time.
    pub cpu: f64,
}

/// CPU seconds of every waited-for descendant so far (`cutime` + `cstime` of /proc/self/stat).
pub fn children_cpu() -> f64 {
    let Some(stat) = ocfork::procfs::Stat::own() else {
        return 0.0;
    };
    // cutime and cstime are fields 16 and 17.
    let ticks = [16, 17].iter().filter_map(|&n| stat.number(n)).sum::<u64>() as f64;
    // Linux reports these in USER_HZ, which is 100 on every architecture it runs on.
    ticks / 100.0
}

/// Runs `f`, timing it and sampling the memory of every process the bench started meanwhile.
pub fn measure<T>(f: impl FnOnce() -> T) -> Measured<T> {
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let me = std::process::id();
            let (mut peak, mut maps) = (0, 0);
            for round in 0u64.. {
                let pids = descendants(me);
                peak = peak.max(pids.iter().map(|p| rss_bytes(*p)).sum());
                if round % 20 == 0 {
                    maps = pids.iter().map(|p| map_count(*p)).fold(maps, u64::max);
                }
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                std::thread::sleep(SAMPLE_EVERY);
            }
            (peak, maps)
        })
    };
    let cpu_before = children_cpu();
    let started = Instant::now();
    let value = f();
    let secs = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::SeqCst);
    let (peak_rss, peak_maps) = sampler.join().unwrap_or((0, 0));
    Measured {
        value,
        secs,
        peak_rss,
        peak_maps,
        cpu: children_cpu() - cpu_before,
    }
}

struct Proc {
    ppid: u32,
}

/// The descendants of `root` (not `root` itself). A child that is forked but has not exec'd
/// yet shares its parent's pages and would count them twice, so processes whose binary and
/// command line are still their parent's are left out.
pub fn descendants(root: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut procs: HashMap<u32, Proc> = HashMap::new();
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if let Some(ppid) = parent_of(pid) {
            procs.insert(pid, Proc { ppid });
        }
    }
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for (pid, p) in &procs {
        children.entry(p.ppid).or_default().push(*pid);
    }
    let mut found = Vec::new();
    let mut stack = vec![root];
    while let Some(pid) = stack.pop() {
        for &child in children.get(&pid).map(Vec::as_slice).unwrap_or_default() {
            stack.push(child);
            if !not_yet_execed(child, pid) {
                found.push(child);
            }
        }
    }
    found
}

/// The summed RSS of `pid` and its descendants, in bytes.
pub fn tree_rss(pid: u32) -> u64 {
    rss_bytes(pid) + descendants(pid).into_iter().map(rss_bytes).sum::<u64>()
}

/// How many memory mappings the process holds.
fn map_count(pid: u32) -> u64 {
    std::fs::read(format!("/proc/{pid}/maps"))
        .map_or(0, |m| m.iter().filter(|b| **b == b'\n').count() as u64)
}

fn parent_of(pid: u32) -> Option<u32> {
    ocfork::procfs::Stat::of(pid)?.ppid()
}

fn not_yet_execed(pid: u32, parent: u32) -> bool {
    let exe = |p: u32| std::fs::read_link(format!("/proc/{p}/exe")).ok();
    let cmdline = |p: u32| std::fs::read(format!("/proc/{p}/cmdline")).ok();
    exe(pid) == exe(parent) && cmdline(pid) == cmdline(parent)
}

fn rss_bytes(pid: u32) -> u64 {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return 0;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Repeated measurements of one quantity.
#[derive(Clone, Debug, Default)]
pub struct Stat {
    pub values: Vec<f64>,
}

impl Stat {
    pub fn push(&mut self, v: f64) {
        self.values.push(v);
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    fn sorted(&self) -> Vec<f64> {
        let mut v = self.values.clone();
        v.sort_by(f64::total_cmp);
        v
    }

    pub fn median(&self) -> f64 {
        let v = self.sorted();
        match v.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => v[n / 2],
            n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        }
    }

    pub fn min(&self) -> f64 {
        self.sorted().first().copied().unwrap_or(f64::NAN)
    }

    pub fn max(&self) -> f64 {
        self.sorted().last().copied().unwrap_or(f64::NAN)
    }

    /// Element-wise `self / other`, for ratios of measurements paired by repetition.
    pub fn ratio(&self, other: &Stat) -> Stat {
        Stat {
            values: self
                .values
                .iter()
                .zip(&other.values)
                .map(|(a, b)| a / b)
                .collect(),
        }
    }
}

/// How a [`Stat`] is shown.
#[derive(Clone, Copy, Debug)]
pub enum Unit {
    Secs,
    Millis,
    Bytes,
    Ratio,
}

impl Unit {
    pub fn show(self, v: f64) -> String {
        if v.is_nan() {
            return "n/a".into();
        }
        match self {
            Unit::Secs => format!("{v:.2} s"),
            Unit::Millis => format!("{:.1} ms", v * 1000.0),
            Unit::Bytes if v.abs() >= 1e9 => format!("{:.2} GB", v / 1e9),
            Unit::Bytes => format!("{:.0} MB", v / 1e6),
            Unit::Ratio => format!("{v:.2}"),
        }
    }

    /// `median (min–max)`, or just the value when there is one.
    pub fn summary(self, s: &Stat) -> String {
        if s.values.len() <= 1 {
            return self.show(s.median());
        }
        format!(
            "{} ({}–{})",
            self.show(s.median()),
            self.show(s.min()),
            self.show(s.max())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_range() {
        let s = Stat {
            values: vec![3.0, 1.0, 2.0, 10.0],
        };
        assert_eq!(s.median(), 2.5);
        assert_eq!(s.min(), 1.0);
        assert_eq!(s.max(), 10.0);
        assert_eq!(Unit::Ratio.summary(&s), "2.50 (1.00–10.00)");
    }

    #[test]
    fn counts_a_child_process() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .expect("sleep starts");
        std::thread::sleep(Duration::from_millis(200));
        let found = descendants(std::process::id());
        let rss: u64 = found.iter().map(|p| rss_bytes(*p)).sum();
        let maps = map_count(child.id());
        let _ = child.kill();
        let _ = child.wait();
        assert!(found.contains(&child.id()), "{found:?}");
        assert!(rss > 0 && maps > 0);
    }
}
