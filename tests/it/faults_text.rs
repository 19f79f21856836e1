//! Hostile text: task and approach text with quotes, shell syntax, newlines, unicode and 100 KB
//! of it reaches the model exactly as the manifest records the prompt.

use crate::common::*;

#[test]
fn task_and_approach_text_reach_the_model_exactly() {
    let w = suite_world(vec![
        writes("MARKER-ONE", &[("one.txt", "1\n")]),
        writes("MARKER-TWO", &[("two.txt", "2\n")]),
    ]);
    let mut task = String::from(
        "Task with \"double\" and 'single' quotes, `backticks`, $HOME, $(rm -rf /), \\ backslash\n",
    );
    task.push_str(
        "Tabs\tand\r\nCRLF, unicode: ünïcødé, 日本語, עברית, 🚀👩‍💻, e\u{301}, zero\u{200b}width\n\n",
    );
    let mut i = 0;
    while task.len() < 100 * 1024 {
        task.push_str(&format!(
            "line {i}: {{\"json\": [1, 2]}} <tag attr='x'>&amp;</tag> %s %n {{}} \u{fffd}\n"
        ));
        i += 1;
    }
    task.push_str("   \n\n");
    let task_file = w.path("task.txt");
    std::fs::write(&task_file, &task).expect("write task");
    let one = "one=MARKER-ONE: \"quoted\" 'single'\nsecond line; echo $PATH | cat && true\n\ttabbed ünï 🚀";
    let two = "MARKER-TWO = spaces=equals ==";
    let run = w.try_json(
        0,
        &[
            "-n",
            "text",
            "--task-file",
            task_file.to_str().expect("utf8"),
            one,
            two,
        ],
    );
    assert_eq!(run["task"], task.as_str(), "the task is recorded as given");
    let forks = run["forks"].as_array().expect("forks");
    assert_eq!(forks[0]["name"], "one");
    assert_eq!(forks[1]["name"], "marker-two-spaces-equals");
    let expected = [
        format!("{}\n\n{}", task.trim_end(), &one["one=".len()..]),
        format!("{}\n\n{}", task.trim_end(), two),
    ];
    let requests = w.model.requests();
    for (fork, want) in forks.iter().zip(&expected) {
        assert_eq!(fork["state"], "done", "{fork:#}");
        assert_eq!(
            fork["prompt"].as_str(),
            Some(want.as_str()),
            "the manifest keeps the prompt"
        );
        let session = fork["session"].as_str().expect("session");
        let seen: Vec<&str> = requests
            .iter()
            .filter(|r| r.agent_turn && r.session.as_deref() == Some(session))
            .map(|r| r.last_user.as_str())
            .collect();
        assert!(!seen.is_empty());
        for got in seen {
            assert!(
                got == want,
                "the model got a different prompt ({} vs {} bytes)",
                got.len(),
                want.len()
            );
        }
    }
}
