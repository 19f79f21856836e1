// ocfork-plugin: gives OpenCode agents the `session` tool (modes message, new, compact, fork,
// judge, synth).
// Written by `ocfork plugin install`; run it again to update. The behaviour lives in the ocfork
// binary, which this file runs, so the tool and `ocfork session` behave the same.
//   OCFORK_BIN         the ocfork binary (default: the one that installed this file)
//   OCFORK_SERVER_URL  the server ocfork talks to (default: the one running this plugin)
//   OCFORK_MAX_HOPS    relays in a row started by agents before the chain stops (default 8)
//   OCFORK_POOL        more servers (URLs, space- or comma-separated) sharing OpenCode's data
//                      directory with this one: each fork works on the one with fewest forks
// The server's password reaches ocfork through OPENCODE_SERVER_PASSWORD in its environment;
// agents' shell commands do not get it.
import { tool } from "@opencode-ai/plugin"
import { spawn } from "node:child_process"

const OCFORK: string = process.env.OCFORK_BIN || "@OCFORK_BIN@"

type Result = { code: number | null; stdout: string; stderr: string }

// Relays return at once and a background ocfork finishes them; judge and synth answer when done.
const RELAYS = ["message", "new", "compact", "fork"]
const MODES = [...RELAYS, "judge", "synth"]

// A name that goes on ocfork's command line (agent, run, fork): joined to its option, and never
// starting with "-", so no value can pass for an option.
function checkedName(what: string, value: unknown): string {
  if (typeof value !== "string" || value === "" || value.startsWith("-")) {
    throw new Error(`unknown ${what} ${JSON.stringify(value)}: a${what === "agent" ? "n" : ""} ${what}'s name does not start with "-"`)
  }
  return value
}

// ocfork's error without the progress lines before it.
function errorOf(res: Result): string {
  const text = res.stderr.trim()
  const at = text.search(/^error: /m)
  return (at >= 0 ? text.slice(at) : text) || `ocfork exited with ${res.code}`
}

// The text goes on stdin: an argument is limited to 128 KiB and the whole command line to a
// few MiB, a pipe to nothing.
function ocfork(args: string[], input: string, signal?: AbortSignal): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(OCFORK, args, { stdio: ["pipe", "pipe", "pipe"], env: process.env, signal })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => (stdout += d))
    child.stderr.on("data", (d) => (stderr += d))
    child.stdin.on("error", () => {}) // ocfork exited before reading it: its stderr says why
    child.on("error", reject)
    child.on("close", (code) => resolve({ code, stdout, stderr }))
    child.stdin.end(input)
  })
}

export const OcforkSession = async ({ serverUrl }: { serverUrl: URL | string }) => ({
  // Agents' shell commands would inherit the server's password; OpenCode spreads this over its
  // own environment and the spawn leaves out a variable set to undefined.
  "shell.env": async (_input: unknown, output: { env: Record<string, string | undefined> }) => {
    output.env.OPENCODE_SERVER_PASSWORD = undefined
  },
  tool: {
    session: tool({
      description: [
        "Hand work to an agent. Modes:",
        "- message: the text goes to `agent` in this session as a user message once your turn ends (turn-based collaboration, e.g. build -> plan for review).",
        "- new: a fresh session (no history) in this directory, prompted with the text for `agent` (clean phase handoff).",
        "- compact: this session is summarized, then the text goes to `agent`.",
        "- fork: a copy of this session in its own git worktree and branch, prompted with the text; its work is committed there (compare with `ocfork diff`, keep one with `ocfork merge`).",
        "- judge: rank the forks your `fork` calls made (or those of `run`; with no forks, the repository's latest run): check and test evidence first, then judge agents review them. Waits until judged and returns the ranking, best first, with each fork's group, evidence and the judges' reasons. `text`, optional, says what matters most. Refused while a fork is still working.",
        "- synth: one more fork of that run, written from the strongest parts of the others (`from`: comma-separated fork names; default: the forks the verdict ranks first, else every fork whose check passed and that changed something). Waits until the new fork has finished (and, when the run had a verdict, the run is judged again), then returns its name, branch and sources, and the new ranking. `text`, optional, says what matters most. Refused with fewer than two forks to combine, an unknown fork in `from`, or while a fork is still working.",
        "`agent` defaults to the current agent (for judge: the judges' read-only one; for synth: the first source fork's); built-in agents are build and plan, and an unknown name is refused with the list of valid ones.",
      ].join("\n"),
      args: {
        mode: tool.schema.enum(["message", "new", "compact", "fork", "judge", "synth"]).describe("What to do"),
        agent: tool.schema.string().optional().describe("Target agent (default: the current one)"),
        text: tool.schema
          .string()
          .optional()
          .describe("The message to send; for judge and synth, optional: what matters most"),
        run: tool.schema.string().optional().describe("judge, synth: the run (default: the one your forks made)"),
        from: tool.schema.string().optional().describe("synth: the forks to combine, comma-separated"),
      },
      async execute(args, ctx) {
        // OpenCode does not hold the arguments to the schema: check them before they reach a
        // command line, where every value is joined to its option so none can pass for one.
        if (!MODES.includes(args.mode)) {
          throw new Error(`unknown mode ${JSON.stringify(args.mode)}; modes: ${MODES.join(", ")}`)
        }
        const relay = RELAYS.includes(args.mode)
        const text = relay ? args.text : (args.text ?? "")
        if (typeof text !== "string") {
          throw new Error("the text must be a string")
        }
        const server = process.env.OCFORK_SERVER_URL || String(serverUrl)
        const argv = ["session", `--session=${ctx.sessionID}`, `--server=${server}`]
        if (relay) {
          if (args.run !== undefined || args.from !== undefined) {
            throw new Error(`run and from are for the modes judge and synth, not ${args.mode}`)
          }
          argv.push(`--agent=${checkedName("agent", args.agent || ctx.agent)}`)
          if (args.mode === "fork") {
            for (const url of (process.env.OCFORK_POOL || "").split(/[\s,]+/).filter(Boolean)) {
              argv.push(`--server=${url}`)
            }
          }
          argv.push(`--caller-message=${ctx.messageID}`, "--detach")
        } else {
          if (args.agent) argv.push(`--agent=${checkedName("agent", args.agent)}`)
          if (args.run !== undefined) argv.push(`--run=${checkedName("run", args.run)}`)
          if (args.from !== undefined) {
            if (args.mode !== "synth") throw new Error("from is for the mode synth")
            if (typeof args.from !== "string") throw new Error("from must be a string: fork names separated by commas")
            const forks = args.from.split(",").map((f) => checkedName("fork", f.trim()))
            argv.push(`--from=${forks.join(",")}`)
          }
        }
        argv.push("--json", "--stdin", "--", args.mode)
        let res: Result
        try {
          res = await ocfork(argv, text, ctx.abort)
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code
          const hint = code === "ENOENT" || code === "EACCES" ? "; set OCFORK_BIN or run `ocfork plugin install` again" : ""
          throw new Error(`cannot run ocfork at ${OCFORK}: ${(e as Error).message}${hint}`)
        }
        if (res.code !== 0) {
          throw new Error(errorOf(res))
        }
        try {
          return JSON.parse(res.stdout).message
        } catch {
          return res.stdout.trim()
        }
      },
    }),
  },
})
