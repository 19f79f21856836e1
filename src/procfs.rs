//! Processes as Linux's `/proc` shows them: the fields of `/proc/PID/stat`, and a process's
//! start time, which tells a live process from a later one that got the same pid.

/// The fields of one `/proc/PID/stat`.
#[derive(Clone, Debug)]
pub struct Stat {
    /// The fields after the command name, from field 3 (`state`) on.
    rest: Vec<String>,
}

impl Stat {
    /// The stat of process `pid`, or None when there is none.
    pub fn of(pid: u32) -> Option<Stat> {
        Stat::parse(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
    }

    /// The stat of this process.
    pub fn own() -> Option<Stat> {
        Stat::parse(&std::fs::read_to_string("/proc/self/stat").ok()?)
    }

    /// Reads the text of a stat file.
    pub fn parse(text: &str) -> Option<Stat> {
        // The command name may hold spaces and parentheses; fields resume after the last ')'.
        let rest = &text[text.rfind(')')? + 1..];
        let rest: Vec<String> = rest.split_whitespace().map(str::to_string).collect();
        (!rest.is_empty()).then_some(Stat { rest })
    }

    /// Field `n` as proc(5) numbers them (1 is the pid, 2 the command name: not kept).
    pub fn field(&self, n: usize) -> Option<&str> {
        self.rest.get(n.checked_sub(3)?).map(String::as_str)
    }

    /// A number field, as proc(5) numbers them.
    pub fn number(&self, n: usize) -> Option<u64> {
        self.field(n)?.parse().ok()
    }

    /// The state letter: `R`, `S`, `Z` (a zombie), ...
    pub fn state(&self) -> Option<&str> {
        self.field(3)
    }

    pub fn ppid(&self) -> Option<u32> {
        self.field(4)?.parse().ok()
    }

    pub fn pgrp(&self) -> Option<u32> {
        self.field(5)?.parse().ok()
    }

    /// When the process started, in clock ticks since boot.
    pub fn start_time(&self) -> Option<u64> {
        self.number(22)
    }
}

/// Start time of a live process in clock ticks since boot, or None when there is no such
/// process (or only its zombie).
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = Stat::of(pid)?;
    if matches!(stat.state(), Some("Z" | "X")) {
        return None;
    }
    stat.start_time()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_after_a_name_with_spaces_and_parentheses() {
        let text = "42 (a (b) c) S 7 9 9 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 123456 99 ...";
        let stat = Stat::parse(text).expect("parses");
        assert_eq!(stat.state(), Some("S"));
        assert_eq!(stat.ppid(), Some(7));
        assert_eq!(stat.pgrp(), Some(9));
        assert_eq!((stat.number(16), stat.number(17)), (Some(7), Some(8)));
        assert_eq!(stat.start_time(), Some(123456));
        assert_eq!(stat.field(2), None);
        assert!(Stat::parse("no name").is_none());
    }

    #[test]
    fn this_process_is_alive_and_has_a_start_time() {
        let me = std::process::id();
        assert!(start_time(me).is_some());
        assert_eq!(start_time(me), Stat::own().and_then(|s| s.start_time()));
        assert_eq!(start_time(u32::MAX - 1), None);
    }
}
