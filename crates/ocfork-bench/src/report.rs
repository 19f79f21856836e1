//! The results: one section per scenario (rows of median and range), the goals each must
//! reach, the machine they were measured on, and BENCHMARKS.md, whose generated part is
//! replaced between markers so notes written around it survive a new run.

use std::path::Path;
use std::process::Command;

use anyhow::Context;

use crate::measure::{Stat, Unit};

pub const BEGIN: &str = "<!-- ocfork-bench: begin generated results -->";
pub const END: &str = "<!-- ocfork-bench: end generated results -->";

/// One scenario's table.
pub struct Section {
    pub title: String,
    pub what: String,
    pub rows: Vec<(String, String)>,
    pub notes: Vec<String>,
}

impl Section {
    pub fn new(title: &str, what: &str) -> Section {
        Section {
            title: title.into(),
            what: what.into(),
            rows: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn row(&mut self, label: &str, value: String) {
        self.rows.push((label.into(), value));
    }

    pub fn secs(&mut self, label: &str, s: &Stat) {
        self.row(label, Unit::Secs.summary(s));
    }

    pub fn millis(&mut self, label: &str, s: &Stat) {
        self.row(label, Unit::Millis.summary(s));
    }

    pub fn bytes(&mut self, label: &str, s: &Stat) {
        self.row(label, Unit::Bytes.summary(s));
    }

    pub fn ratio(&mut self, label: &str, s: &Stat) {
        self.row(label, Unit::Ratio.summary(s));
    }

    pub fn note(&mut self, text: &str) {
        self.notes.push(text.into());
    }

    fn markdown(&self) -> String {
        let mut s = format!(
            "### {}\n\n{}\n\n| measure | median (min–max) |\n|---|---|\n",
            self.title, self.what
        );
        for (label, value) in &self.rows {
            s.push_str(&format!("| {label} | {value} |\n"));
        }
        for n in &self.notes {
            s.push_str(&format!("\n{n}\n"));
        }
        s
    }

    fn text(&self) -> String {
        let width = self
            .rows
            .iter()
            .map(|r| r.0.chars().count())
            .max()
            .unwrap_or(0);
        let mut s = format!("{}\n", self.title);
        for (label, value) in &self.rows {
            s.push_str(&format!("  {label:<width$}  {value}\n"));
        }
        for n in &self.notes {
            s.push_str(&format!("  note: {n}\n"));
        }
        s
    }
}

/// A bar a scenario must reach.
pub struct Goal {
    pub scenario: String,
    pub text: String,
    pub measured: String,
    /// None when it could not be measured.
    pub met: Option<bool>,
}

impl Goal {
    /// The median of `s` must not exceed `bar`.
    pub fn at_most(scenario: &str, what: &str, s: &Stat, bar: f64) -> Goal {
        Goal::below_or_at(scenario, what, s, bar, Unit::Ratio, "<=")
    }

    pub fn below_or_at(
        scenario: &str,
        what: &str,
        s: &Stat,
        bar: f64,
        unit: Unit,
        op: &str,
    ) -> Goal {
        let m = s.median();
        let met =
            (!s.is_empty() && !m.is_nan()).then(|| if op == "<" { m < bar } else { m <= bar });
        Goal {
            scenario: scenario.into(),
            text: format!("{what} {op} {}", unit.show(bar)),
            measured: unit.show(m),
            met,
        }
    }

    pub fn unavailable(scenario: &str, text: &str, why: &str) -> Goal {
        Goal {
            scenario: scenario.into(),
            text: text.into(),
            measured: why.into(),
            met: None,
        }
    }

    fn verdict(&self) -> &'static str {
        match self.met {
            Some(true) => "met",
            Some(false) => "not met",
            None => "not available",
        }
    }
}

/// What the numbers were measured on.
pub struct Machine {
    pub date: String,
    pub cpu: String,
    pub cores: usize,
    pub memory: String,
    pub filesystem: String,
    pub kernel: String,
    pub opencode: String,
    pub git: String,
    pub load_before: String,
    pub load_after: String,
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn run(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

pub fn load_average() -> String {
    read("/proc/loadavg")
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

impl Machine {
    pub fn probe(dir: &Path, opencode: &Path) -> Machine {
        let cpuinfo = read("/proc/cpuinfo");
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
            .unwrap_or_else(|| "unknown".into());
        let cores = cpuinfo
            .lines()
            .filter(|l| l.starts_with("processor"))
            .count();
        let memory = read("/proc/meminfo")
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or_else(
                || "unknown".into(),
                |kb| format!("{:.1} GiB", kb / 1024.0 / 1024.0),
            );
        let d = dir.to_string_lossy();
        let fs_type = run("stat", &["-f", "-c", "%T", &d]);
        let df = run("df", &["-T", &d]);
        let device = df
            .lines()
            .nth(1)
            .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
            .unwrap_or_default();
        let date = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        Machine {
            date,
            cpu,
            cores,
            memory,
            filesystem: format!("{fs_type} (`stat -f`); `df -T`: {device}"),
            kernel: format!(
                "{}, vm.max_map_count {}",
                read("/proc/sys/kernel/osrelease").trim(),
                read("/proc/sys/vm/max_map_count").trim()
            ),
            opencode: run(&opencode.to_string_lossy(), &["--version"]),
            git: run("git", &["--version"]),
            load_before: load_average(),
            load_after: String::new(),
        }
    }

    fn markdown(&self) -> String {
        format!(
            "- date: {}\n- CPU: {} x {}\n- memory: {}\n- filesystem of the temp dir: {}\n- kernel: {}\n\
             - OpenCode: {}; {}\n- load average (1/5/15 min) before: {}, after: {}\n",
            self.date,
            self.cores,
            self.cpu,
            self.memory,
            self.filesystem,
            self.kernel,
            self.opencode,
            self.git,
            self.load_before,
            self.load_after
        )
    }
}

/// Everything one bench run found.
pub struct Report {
    pub machine: Machine,
    pub settings: String,
    pub sections: Vec<Section>,
    pub goals: Vec<Goal>,
}

impl Report {
    fn goals_markdown(&self) -> String {
        let mut s = String::from("| scenario | goal | measured (median) | |\n|---|---|---|---|\n");
        for g in &self.goals {
            let (scenario, text, measured, verdict) =
                (&g.scenario, &g.text, &g.measured, g.verdict());
            s.push_str(&format!(
                "| {scenario} | {text} | {measured} | **{verdict}** |\n"
            ));
        }
        s
    }

    pub fn markdown(&self) -> String {
        let mut s = format!(
            "{BEGIN}\n## Results\n\n{}\n{}\n\n### Goals\n\n{}\n",
            self.machine.markdown(),
            self.settings,
            self.goals_markdown()
        );
        for sec in &self.sections {
            s.push('\n');
            s.push_str(&sec.markdown());
        }
        s.push_str(END);
        s.push('\n');
        s
    }

    pub fn text(&self) -> String {
        let mut s = String::new();
        for sec in &self.sections {
            s.push_str(&sec.text());
            s.push('\n');
        }
        s.push_str("Goals\n");
        for g in &self.goals {
            let (scenario, text, measured, verdict) =
                (&g.scenario, &g.text, &g.measured, g.verdict());
            s.push_str(&format!(
                "  {scenario:<3} {text:<55} {measured:>10}  {verdict}\n"
            ));
        }
        s
    }

    /// Writes the results into `path`, replacing an earlier generated part and keeping the rest.
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        let generated = self.markdown();
        let old = std::fs::read_to_string(path).unwrap_or_default();
        let new = match (old.find(BEGIN), old.find(END)) {
            (Some(b), Some(e)) if b < e => {
                format!(
                    "{}{}{}",
                    &old[..b],
                    generated,
                    &old[e + END.len()..].trim_start_matches('\n')
                )
            }
            _ if old.trim().is_empty() => format!(
                "# Benchmarks\n\nMeasured by `cargo run --release --bin ocfork-bench -- all`; the part between the \
                 markers is rewritten by each run.\n\n{generated}"
            ),
            _ => format!("{}\n\n{generated}", old.trim_end()),
        };
        std::fs::write(path, new).with_context(|| format!("cannot write {}", path.display()))
    }
}
