//! Config files: precedence (flags > repo file > user file > defaults), `ocfork config`, and
//! errors that name the file and line.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::*;

/// A repo with one commit and a private HOME/XDG_CONFIG_HOME; no OpenCode needed.
struct Plain {
    tmp: tempfile::TempDir,
    repo: PathBuf,
}

impl Plain {
    fn new() -> Plain {
        let tmp = tempfile::Builder::new()
            .prefix("ocfork-config")
            .tempdir()
            .expect("tempdir");
        let repo = tmp.path().join("app");
        std::fs::create_dir_all(&repo).expect("mkdir");
        std::fs::write(repo.join("README.md"), "# app\n").expect("write");
        git(&repo, &["init", "-q", "-b", "main"]);
        git(&repo, &["add", "-A"]);
        git(
            &repo,
            &[
                "-c",
                "user.name=T",
                "-c",
                "user.email=t@e",
                "commit",
                "-q",
                "-m",
                "initial",
            ],
        );
        Plain { tmp, repo }
    }

    fn user_file(&self) -> PathBuf {
        self.tmp.path().join("xdg/config/ocfork/config.toml")
    }

    fn write_user(&self, text: &str) {
        let p = self.user_file();
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }

    fn write_repo(&self, text: &str) {
        std::fs::write(self.repo.join(".ocfork.toml"), text).expect("write");
    }

    fn cmd(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ocfork"));
        crate::common::hermetic(&mut cmd)
            .current_dir(&self.repo)
            .env("HOME", self.tmp.path().join("home"))
            .env("XDG_CONFIG_HOME", self.tmp.path().join("xdg/config"))
            .env("NO_COLOR", "1");
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("ocfork runs")
    }
}

fn repo_top(repo: &Path) -> PathBuf {
    PathBuf::from(git(repo, &["rev-parse", "--show-toplevel"]).trim())
}

#[test]
fn repo_file_wins_over_user_file_and_env_over_both() {
    let p = Plain::new();
    p.write_user("jobs = 2\nagent = \"plan\"\ntimeout = \"10m\"\nworktree_root = \"/elsewhere\"\n");
    p.write_repo("# team defaults\nagent = \"build\"\nmodels = [\"scripted/scripted\"]\nworktree_root = \"../trees\"\n");
    let out = p.run(&["config", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let c = json(&out);
    let v = &c["values"];
    let top = repo_top(&p.repo);
    let repo_file = top.join(".ocfork.toml");
    let user_file = p.user_file();
    assert_eq!(c["files"], serde_json::json!([user_file, repo_file]));

    assert_eq!(v["jobs"]["value"], 2);
    assert_eq!(v["jobs"]["source"], "file");
    assert_eq!(v["jobs"]["file"], serde_json::json!(user_file));
    assert_eq!(v["jobs"]["line"], 1);
    assert_eq!(v["agent"]["value"], "build");
    assert_eq!(v["agent"]["file"], serde_json::json!(repo_file));
    assert_eq!(v["agent"]["line"], 2);
    assert_eq!(
        v["models"]["value"],
        serde_json::json!(["scripted/scripted"])
    );
    assert_eq!(v["timeout"]["value"], "10m");
    assert_eq!(v["timeout"]["line"], 3);
    assert_eq!(v["setup"]["source"], "default");
    assert_eq!(v["setup"]["value"], serde_json::Value::Null);
    // Lexically normalised: no `..` left in what the user reads.
    assert_eq!(
        v["worktree_root"]["value"],
        serde_json::json!(top.parent().expect("parent").join("trees"))
    );
    assert_eq!(v["worktree_root"]["line"], 4);

    let out = p
        .cmd()
        .args(["config", "--json"])
        .env("OCFORK_WORKTREE_ROOT", "/from/env")
        .output()
        .expect("runs");
    let v = &json(&out)["values"];
    assert_eq!(v["worktree_root"]["value"], "/from/env");
    assert_eq!(v["worktree_root"]["source"], "env");

    let out = p.run(&["config"]);
    let text = stdout(&out);
    assert!(text.contains("agent = \"build\""), "{text}");
    assert!(
        text.contains(&format!("# {}:2", repo_file.display())),
        "{text}"
    );
    assert!(
        text.contains(&format!("# {}:1", user_file.display())),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("setup = (none)")),
        "{text}"
    );
}

#[test]
fn defaults_without_files() {
    let p = Plain::new();
    let out = p.run(&["config", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let c = json(&out);
    assert_eq!(c["files"], serde_json::json!([]));
    assert_eq!(c["values"]["agent"]["value"], "build");
    assert_eq!(c["values"]["timeout"]["value"], "30m");
    assert_eq!(c["values"]["jobs"]["value"], serde_json::Value::Null);
    let root = c["values"]["worktree_root"]["value"]
        .as_str()
        .expect("root")
        .to_string();
    assert!(root.ends_with("app.ocfork"), "{root}");
}

#[test]
fn errors_name_the_file_and_line() {
    let p = Plain::new();
    p.write_repo("jobs = 2\n\nmodle = \"a/b\"\n");
    for args in [&["config"][..], &["try", "x=do it"][..]] {
        let out = p.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        let want = format!("{}:3:", repo_top(&p.repo).join(".ocfork.toml").display());
        assert!(err.contains(&want), "{args:?}: {err}");
        assert!(err.contains("modle"), "{err}");
    }

    std::fs::remove_file(p.repo.join(".ocfork.toml")).expect("rm");
    p.write_user("agent = \"plan\"\njobs = \"four\"\n");
    let err = stderr(&p.run(&["config"]));
    assert!(
        err.contains(&format!("{}:2:", p.user_file().display())),
        "{err}"
    );

    p.write_user("timeout = \"soon\"\n");
    let out = p.run(&["config"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains(":1:") && err.contains("soon"), "{err}");

    p.write_user("models = [\"no-slash\"]\n");
    let err = stderr(&p.run(&["config"]));
    assert!(err.contains(":1:") && err.contains("no-slash"), "{err}");
}

#[test]
fn try_takes_defaults_from_files_and_flags_win() {
    let w = suite_world(vec![writes("Use Redux", &[("src/store.js", "// redux\n")])]);
    let user = w.path("xdg/config/ocfork/config.toml");
    std::fs::create_dir_all(user.parent().expect("parent")).expect("mkdir");
    std::fs::write(&user, "agent = \"plan\"\ntimeout = \"5m\"\njobs = 1\n").expect("write");
    std::fs::write(
        w.repo.join(".ocfork.toml"),
        "agent = \"build\"\ncheck = \"false\"\nworktree_root = \"../trees\"\n",
    )
    .expect("write");
    let run = w.try_json(
        0,
        &[
            "-n",
            "cfg",
            "--check",
            "test -f src/store.js",
            "redux=Use Redux",
        ],
    );
    let fork = &run["forks"][0];
    assert_eq!(fork["agent"], "build", "repo file wins over the user's");
    assert_eq!(
        fork["check"]["command"], "test -f src/store.js",
        "the flag wins"
    );
    assert_eq!(fork["check"]["exit_code"], 0);
    assert_eq!(run["timeout_ms"], 300_000, "from the user's file");
    assert_eq!(run["jobs"], 1);
    let wt = worktree_of(fork);
    assert!(wt.ends_with("trees/cfg/redux"), "{}", wt.display());
    assert_eq!(
        wt.canonicalize().expect("worktree exists"),
        w.path("trees/cfg/redux")
            .canonicalize()
            .expect("under ../trees")
    );
}

/// Messages in the user's words: TOML's type names and `..` paths do not reach the user.
#[test]
fn config_says_things_in_plain_words() {
    let p = Plain::new();
    let top = repo_top(&p.repo);
    let tmp = regex_escape(&p.tmp.path().display().to_string());
    let filters = vec![(tmp.as_str(), "[TMP]")];
    p.write_repo("worktree_root = \"../trees\"\n");
    let out = p.run(&["config"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let line = stdout(&out)
        .lines()
        .find(|l| l.starts_with("worktree_root"))
        .expect("a worktree_root line")
        .to_string();
    assert!(!line.contains(".."), "{line}");
    assert!(
        line.contains(
            &top.parent()
                .expect("parent")
                .join("trees")
                .display()
                .to_string()
        ),
        "{line}"
    );

    p.write_repo("jobs = \"four\"\nmodels = \"a/b\"\n");
    let err = stderr(&p.run(&["config"]));
    insta::with_settings!({filters => filters.clone()}, {
        insta::assert_snapshot!("config_jobs_not_a_number", err);
    });
    p.write_repo("models = \"a/b\"\n");
    let err = stderr(&p.run(&["config"]));
    insta::with_settings!({filters => filters}, {
        insta::assert_snapshot!("config_models_not_a_list", err);
    });
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' || c == '_' || c == '-' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}
