//! `ocfork ui` driven in tmux: the real binary on a real terminal, read back with
//! `capture-pane`.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::*;

/// One tmux server of its own (`-L`), running `ocfork ui ARGS` in a 120x40 window with the
/// world's environment; the shell prints the exit code when ocfork ends.
pub(crate) struct Tmux {
    socket: String,
    env: Vec<(std::ffi::OsString, Option<std::ffi::OsString>)>,
    dir: std::path::PathBuf,
}

impl Tmux {
    fn start(w: &World, name: &str, args: &str) -> Tmux {
        Tmux::start_sized(w, name, &format!("ui {args}"), (120, 40))
    }

    fn start_sized(w: &World, name: &str, args: &str, size: (u16, u16)) -> Tmux {
        Tmux::start_env(w, name, args, size, &[])
    }

    /// [`Tmux::start_sized`] running `ocfork ARGS`, with `extra` in ocfork's environment.
    pub(crate) fn start_env(
        w: &World,
        name: &str,
        args: &str,
        (x, y): (u16, u16),
        extra: &[(&str, String)],
    ) -> Tmux {
        let mut probe = w.ocfork();
        probe.envs(extra.iter().map(|(k, v)| (*k, v)));
        let env = probe
            .get_envs()
            .map(|(k, v)| (k.to_owned(), v.map(|v| v.to_owned())))
            .collect();
        let t = Tmux {
            socket: format!("ocfork-tui-{name}-{}", std::process::id()),
            env,
            dir: w.repo.clone(),
        };
        let cmd = format!(
            "{} {args}; echo EXIT=$?; sleep 60",
            env!("CARGO_BIN_EXE_ocfork")
        );
        let (x, y) = (x.to_string(), y.to_string());
        t.tmux(&["new-session", "-d", "-x", &x, "-y", &y, "-s", "t", &cmd]);
        t
    }

    pub(crate) fn tmux(&self, args: &[&str]) -> String {
        let mut c = Command::new("tmux");
        c.arg("-L")
            .arg(&self.socket)
            .args(args)
            .current_dir(&self.dir);
        for (k, v) in &self.env {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        let out = c.output().expect("tmux runs");
        assert!(out.status.success(), "tmux {args:?}: {}", stderr(&out));
        stdout(&out)
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "t"])
    }

    /// Types `text` literally.
    fn type_text(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "t", "-l", text]);
    }

    pub(crate) fn keys(&self, keys: &[&str]) {
        for k in keys {
            self.tmux(&["send-keys", "-t", "t", k]);
        }
    }

    /// Waits (at most 90 s: the machine may be busy) until the screen satisfies `pred`, and returns it.
    pub(crate) fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if pred(&screen) {
                return screen;
            }
            if start.elapsed() > Duration::from_secs(90) {
                panic!("waited 90 s for {what}; the screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

/// The screen's line for fork `name` in the table.
pub(crate) fn row<'a>(screen: &'a str, name: &str) -> Option<&'a str> {
    screen.lines().find(|l| {
        l.trim_start_matches(['│', ' '])
            .starts_with(&format!("{name} "))
    })
}

fn two_forks() -> Script {
    Script {
        rules: vec![
            writes("Alpha", &[("alpha.txt", "from alpha\n")]),
            writes("Beta", &[("beta.txt", "from beta\n")]),
            writes("Gamma", &[("gamma.txt", "from gamma\n")]),
        ],
        default_reply: "ok".into(),
    }
}

/// `script` with Alpha's turn [`held`] after its write, until the test releases it.
fn held_alpha(mut script: Script) -> Script {
    if let Some(alpha) = script.rules.iter_mut().find(|r| r.when == "Alpha") {
        alpha.steps.push(held());
    }
    script
}

#[test]
fn finished_run_shows_forks_patches_stat_continue_and_merges_on_y_only() {
    let w = World::new(two_forks()).on_suite_server();
    let out = w.run(&["try", "-n", "pick", "a=Alpha", "b=Beta"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let head = w.git(&["rev-parse", "HEAD"]);
    let t = Tmux::start(&w, "done", "pick");
    let screen = t.wait_for("both fork rows done", |s| {
        row(s, "a").is_some_and(|r| r.contains("done"))
            && row(s, "b").is_some_and(|r| r.contains("done"))
    });
    assert!(screen.contains("run pick"), "{screen}");

    // Enter: the selected fork's patch.
    t.keys(&["Enter"]);
    t.wait_for("fork a's patch", |s| {
        s.contains("+from alpha") && s.contains("alpha.txt")
    });
    // s: the per-file stat instead of the patch, and back.
    t.keys(&["s"]);
    t.wait_for("fork a's stat", |s| {
        s.contains("stat: a vs the run's start") && s.contains("added     alpha.txt  +1 -0")
    });
    t.keys(&["s"]);
    t.wait_for("fork a's patch again", |s| s.contains("+from alpha"));
    // v on a, then b: the patch between the two.
    t.keys(&["Tab", "v", "j", "v"]);
    let screen = t.wait_for("the a vs b patch", |s| {
        s.contains("a vs b") && s.contains("+from beta") && s.contains("-from alpha")
    });
    assert!(screen.contains("deleted file mode"), "{screen}");
    t.keys(&["v"]);
    t.wait_for("back to one fork", |s| s.contains("b vs the run's start"));
    // c: a follow-up typed on a line goes to the fork (`continue`), which works again.
    t.keys(&["c"]);
    t.wait_for("the follow-up line", |s| s.contains("continue b: type"));
    t.type_text("Gamma please");
    t.keys(&["Enter"]);
    let screen = t.wait_for("the follow-up's result", |s| {
        s.contains("continue pick/b (any key closes)") && s.contains("(finished)")
    });
    assert!(screen.contains("continue pick/b"), "{screen}");
    assert!(
        w.git(&["show", "ocfork/pick/b:gamma.txt"])
            .contains("from gamma"),
        "the follow-up's work is not on the branch"
    );
    t.keys(&["Enter"]);
    t.wait_for("the dialog closed", |s| !s.contains("any key closes"));

    // m shows the dry run and asks; n changes nothing.
    t.keys(&["Tab", "m"]);
    t.wait_for("the merge question", |s| s.contains("y / n"));
    t.keys(&["n"]);
    t.wait_for("not merged", |s| s.contains("not merged"));
    assert_eq!(w.git(&["rev-parse", "HEAD"]), head);
    assert!(!w.repo.join("beta.txt").exists());
    // m then y merges: the main tree has the fork's file.
    t.keys(&["m"]);
    t.wait_for("the merge question", |s| s.contains("y / n"));
    t.keys(&["y"]);
    t.wait_for("the merge's result", |s| {
        s.contains("merge pick/b (any key closes)")
    });
    assert_eq!(
        std::fs::read_to_string(w.repo.join("beta.txt")).expect("merged file"),
        "from beta\n"
    );
    assert_ne!(w.git(&["rev-parse", "HEAD"]), head);
    // (Not Escape: a key right after it would arrive as Alt+key.)
    t.keys(&["Enter"]);
    t.wait_for("b marked merged, the dialog closed", |s| {
        row(s, "b").is_some_and(|r| r.contains("merged")) && !s.contains("any key closes")
    });

    // q quits with 0 and the main screen is back.
    t.keys(&["q"]);
    let screen = t.wait_for("the exit code", |s| s.contains("EXIT="));
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert!(
        !screen.contains("run pick"),
        "the UI is still on screen:\n{screen}"
    );
    let alt = t.tmux(&["display-message", "-p", "-t", "t", "#{alternate_on}"]);
    assert_eq!(alt.trim(), "0", "the alternate screen was left on");
}

#[test]
fn a_live_run_changes_on_screen_without_a_key() {
    let w = World::new(held_alpha(two_forks())).on_suite_server();
    let out = w.run(&["try", "--detach", "-n", "live", "a=Alpha"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // At 80x24, the smallest terminal the UI is made for.
    let t = Tmux::start_sized(&w, "live", "ui", (80, 24));
    let screen = t.wait_for("fork a's row", |s| row(s, "a").is_some());
    let first = row(&screen, "a").unwrap_or_default().to_string();
    assert!(
        !first.contains("done"),
        "the fork was done before the UI showed it: {first}"
    );
    release(&[w.path("app.ocfork/live/a")]);
    let screen = t.wait_for("fork a done", |s| {
        row(s, "a").is_some_and(|r| r.contains("done"))
    });
    assert!(
        row(&screen, "a").is_some_and(|r| r.contains("+1 -0")),
        "the table's columns are cut off:\n{screen}"
    );
    // Ctrl-C quits like q, with the exit code of an interrupted command.
    t.keys(&["C-c"]);
    let screen = t.wait_for("the exit code", |s| s.contains("EXIT="));
    assert!(screen.contains("EXIT=130"), "{screen}");
    let alt = t.tmux(&["display-message", "-p", "-t", "t", "#{alternate_on}"]);
    assert_eq!(alt.trim(), "0", "the alternate screen was left on");
}

#[test]
fn ui_refuses_without_a_terminal() {
    let w = World::new(Script::default()).on_suite_server();
    let out = w.run(&["ui"]);
    exits_with(&out, 2, "needs a terminal");
    assert!(stdout(&out).is_empty());
}

#[test]
fn try_ui_watches_the_run_it_starts() {
    let w = World::with_delay(two_forks(), Duration::from_millis(500)).on_suite_server();
    let t = Tmux::start_sized(&w, "try", "try --ui -n watched a=Alpha", (120, 40));
    t.wait_for("fork a done in the UI", |s| {
        s.contains("run watched") && row(s, "a").is_some_and(|r| r.contains("done"))
    });
    t.keys(&["q"]);
    let screen = t.wait_for("the exit code", |s| s.contains("EXIT="));
    assert!(screen.contains("EXIT=0"), "{screen}");
    let out = w.run(&["try", "--ui", "-n", "piped", "a=Alpha"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        !w.repo.join(".git/ocfork/runs/piped.json").exists(),
        "a refused try --ui recorded a run"
    );
}

#[test]
fn running_forks_show_time_esc_leaves_the_patch_and_nothing_to_merge_asks_nothing() {
    let script = Script {
        rules: vec![
            writes("Alpha", &[("alpha.txt", "from alpha\n")]),
            says("Empty", "Nothing to do."),
        ],
        default_reply: "ok".into(),
    };
    let w = World::new(held_alpha(script)).on_suite_server();
    let out = w.run(&["try", "--detach", "-n", "live", "a=Alpha", "e=Empty"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let t = Tmux::start(&w, "second", "live");
    // A running fork's time counts up, as `status` shows it.
    let screen = t.wait_for("fork a running with its time", |s| {
        row(s, "a").is_some_and(|r| r.contains("running") && r.contains("s "))
    });
    assert!(
        !row(&screen, "a").unwrap_or_default().contains('…'),
        "{screen}"
    );
    release(&[w.path("app.ocfork/live/a")]);
    t.wait_for("both forks done", |s| {
        row(s, "a").is_some_and(|r| r.contains("done"))
            && row(s, "e").is_some_and(|r| r.contains("done"))
    });
    // Esc in the patch pane goes back to the table; it does not quit.
    t.keys(&["Enter"]);
    t.wait_for("fork a's patch", |s| s.contains("+from alpha"));
    t.keys(&["Escape"]);
    std::thread::sleep(Duration::from_millis(500));
    t.keys(&["j"]);
    let screen = t.wait_for("fork e selected from the table", |s| {
        s.contains("e: no changes") || s.contains("e has no commit")
    });
    assert!(!screen.contains("EXIT="), "Esc quit the UI:\n{screen}");
    // A status message goes with the next key.
    t.keys(&["k", "m"]);
    t.wait_for("the merge question", |s| s.contains("y / n"));
    t.keys(&["n"]);
    t.wait_for("not merged", |s| s.contains("not merged: live/a"));
    t.keys(&["j"]);
    t.wait_for("the status line cleared", |s| !s.contains("not merged"));
    // Nothing to merge: said, with no question.
    t.keys(&["m"]);
    let screen = t.wait_for("the merge's answer", |s| s.contains("nothing to merge"));
    assert!(!screen.contains("y / n"), "{screen}");
    t.keys(&["Enter", "q"]);
    let screen = t.wait_for("the exit code", |s| s.contains("EXIT="));
    assert!(screen.contains("EXIT=0"), "{screen}");
}

#[test]
fn a_fork_reset_below_its_start_is_warned_about_above_its_patch() {
    let w = suite_world(vec![Rule {
        steps: vec![bash("git reset -q --hard HEAD~2")],
        ..writes("Use reset", &[("r.txt", "r\n")])
    }]);
    for n in 1..=2 {
        std::fs::write(w.repo.join(format!("x{n}.txt")), "x\n").expect("write");
        w.git(&["add", "-A"]);
        w.git(&["commit", "-q", "-m", &format!("x{n}")]);
    }
    let out = w.run(&["try", "-n", "low", "reset=Use reset"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let t = Tmux::start(&w, "low", "low");
    t.wait_for("the warning above the fork's patch", |s| {
        s.contains("no longer contains its start commit") && s.contains("-x")
    });
}
