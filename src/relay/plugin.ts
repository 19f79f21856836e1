// ocfork-plugin: gives OpenCode agents the `session` tool (modes message, new, compact, fork).
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

const MODES = ["message", "new", "compact", "fork"]

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
        "`agent` defaults to the current agent; built-in agents are build and plan, and an unknown name is refused with the list of valid ones.",
      ].join("\n"),
      args: {
        mode: tool.schema.enum(["message", "new", "compact", "fork"]).describe("What to do"),
        agent: tool.schema.string().optional().describe("Target agent (default: the current one)"),
        text: tool.schema.string().describe("The message to send"),
      },
      async execute(args, ctx) {
        // OpenCode does not hold the arguments to the schema: check them before they reach a
        // command line, where every value is joined to its option so none can pass for one.
        if (!MODES.includes(args.mode)) {
          throw new Error(`unknown mode ${JSON.stringify(args.mode)}; modes: ${MODES.join(", ")}`)
        }
        const agent = args.agent || ctx.agent
        if (typeof agent !== "string" || agent === "" || agent.startsWith("-")) {
          throw new Error(`unknown agent ${JSON.stringify(agent)}: an agent's name does not start with "-"`)
        }
        if (typeof args.text !== "string") {
          throw new Error("the text must be a string")
        }
        const server = process.env.OCFORK_SERVER_URL || String(serverUrl)
        const argv = ["session", `--session=${ctx.sessionID}`, `--server=${server}`, `--agent=${agent}`]
        if (args.mode === "fork") {
          for (const url of (process.env.OCFORK_POOL || "").split(/[\s,]+/).filter(Boolean)) {
            argv.push(`--server=${url}`)
          }
        }
        argv.push(`--caller-message=${ctx.messageID}`, "--detach", "--json", "--stdin", "--", args.mode)
        let res: Result
        try {
          res = await ocfork(argv, args.text, ctx.abort)
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code
          const hint = code === "ENOENT" || code === "EACCES" ? "; set OCFORK_BIN or run `ocfork plugin install` again" : ""
          throw new Error(`cannot run ocfork at ${OCFORK}: ${(e as Error).message}${hint}`)
        }
        if (res.code !== 0) {
          throw new Error(res.stderr.trim() || `ocfork exited with ${res.code}`)
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
