//! Text from tasks, agents, model errors and file names cannot drive the terminal: human output
//! shows control characters escaped (no ESC reaches stdout or stderr), `status` shows the task's
//! first line cut short, `--json` keeps every byte; and no task text can stop a fork's commit.

use crate::common::*;

const ESC: char = '\x1b';

fn no_escape_in(what: &str, out: &std::process::Output) {
    for (stream, text) in [("stdout", stdout(out)), ("stderr", stderr(out))] {
        assert!(
            !text.contains(ESC) && !text.contains('\x07'),
            "{what}: a raw control character reached {stream}:\n{}",
            text.escape_debug().take(3000).collect::<String>()
        );
    }
}

#[test]
fn hostile_text_is_shown_escaped_and_json_keeps_it() {
    let evil_file = "e\x1b]0;file\x07.txt";
    let w = suite_world(vec![
        Rule {
            steps: vec![bash(r"printf x > ./$(printf 'e\033]0;file\007.txt')")],
            ..says("MARK-A", "done")
        },
        Rule {
            fail: Some(Failure {
                status: Some(400),
                message: Some("bad \x1b[2J\x1b]0;model\x07 request".into()),
                ..Failure::default()
            }),
            ..says("MARK-B", "never")
        },
    ]);
    let mut task = String::from("\x1b]0;pwned\x07Fix the \x1b[31mred\x1b[0m bug ");
    task.push_str(&"y".repeat(200_000));
    task.push_str("\nsecond line of the task\n");
    let task_file = w.path("task.txt");
    std::fs::write(&task_file, &task).expect("write task");
    let file = task_file.to_str().expect("utf8");

    let out = w.run(&[
        "try",
        "-n",
        "esc",
        "--task-file",
        file,
        "a=MARK-A",
        "b=MARK-B",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    no_escape_in("try", &out);
    assert!(
        stderr(&out).contains(r"bad \x1b[2J"),
        "the model's error, escaped: {}",
        stderr(&out)
    );

    let status = w.run(&["status"]);
    let shown = ok(&status);
    no_escape_in("status", &status);
    assert!(
        shown.contains(r"task: \x1b]0;pwned\x07Fix the \x1b[31mred"),
        "{shown}"
    );
    assert!(shown.contains('…'), "a long first line is cut: {shown}");
    assert!(!shown.contains("second line"), "{shown}");
    assert!(shown.len() < 2_000, "status printed {} bytes", shown.len());

    let run = json(&w.run(&["status", "--json"]));
    assert_eq!(run["task"], task.as_str(), "--json keeps the whole task");
    let b = fork(&run, "b");
    assert!(
        b["error"].as_str().unwrap_or_default().contains("\x1b[2J"),
        "--json keeps the error exact: {b:#}"
    );

    let diff = w.run(&["diff", "esc", "--stat"]);
    assert!(
        stdout(&diff).contains(r"e\x1b]0;file\x07.txt"),
        "{}",
        stdout(&diff)
    );
    no_escape_in("diff", &diff);
    let diff = json(&w.run(&["diff", "esc", "--json"]));
    let paths = paths_in(&diff["forks"][0]["files"]);
    assert_eq!(paths, [evil_file], "--json names the file exactly");
}

#[test]
fn any_task_text_can_be_committed() {
    let w = suite_world(vec![
        writes("MARK-A", &[("a.txt", "a\n")]),
        writes("MARK-B", &[("b.txt", "b\n")]),
    ]);
    for (run, task) in [
        ("nul", "Fix\0this \x1b[31mnow"),
        ("only", "\0\x01\x02\x1b\0"),
    ] {
        let task_file = w.path(&format!("{run}.txt"));
        std::fs::write(&task_file, task).expect("write task");
        let file = task_file.to_str().expect("utf8");
        let out = w.try_run(0, &["-n", run, "--task-file", file, "a=MARK-A", "b=MARK-B"]);
        let got = json(&out);
        assert_eq!(got["task"], task, "the task is kept exactly");
        for name in ["a", "b"] {
            let f = fork(&got, name);
            assert_eq!(f["state"], "done", "{f:#}");
            let commit = f["commit"].as_str().expect("a commit");
            let message = w.git(&["log", "-1", "--format=%B", commit]);
            assert!(
                !message.contains(ESC) && !message.contains('\0'),
                "no raw control character in the commit message: {}",
                message.escape_debug()
            );
            assert!(message.contains(r"\x00"), "{}", message.escape_debug());
        }
    }
    // Merging one makes a commit on the user's branch from the same text.
    let merged = w.run(&["merge", "nul/a"]);
    ok(&merged);
    let message = w.git(&["log", "-1", "--format=%B"]);
    assert!(
        message.contains(r"Fix\x00this"),
        "{}",
        message.escape_debug()
    );
}
