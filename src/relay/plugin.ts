// ocfork-plugin: gives OpenCode agents the `session` tool (modes message, new, compact, fork).
// Written by `ocfork plugin install`; run it again to update. The behaviour lives in the ocfork
// binary, which this file runs, so the tool and `ocfork session` behave the same.
//   OCFORK_BIN         the ocfork binary (default: the one that installed this file)
//   OCFORK_SERVER_URL  the server ocfork talks to (default: the one running this plugin)
//   OCFORK_MAX_HOPS    relays in a row started by agents before the chain stops (default 8)
// The server's password reaches ocfork through OPENCODE_SERVER_PASSWORD in its environment.
import { tool } from "@opencode-ai/plugin"
import { spawn } from "node:child_process"

const OCFORK: string = process.env.OCFORK_BIN || "@OCFORK_BIN@"

type Result = { code: number | null; stdout: string; stderr: string }

function ocfork(args: string[], signal?: AbortSignal): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(OCFORK, args, { stdio: ["ignore", "pipe", "pipe"], env: process.env, signal })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => (stdout += d))
    child.stderr.on("data", (d) => (stderr += d))
    child.on("error", reject)
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })
}

export const OcforkSession = async ({ serverUrl }: { serverUrl: URL | string }) => ({
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
        const server = process.env.OCFORK_SERVER_URL || String(serverUrl)
        const argv = ["session", args.mode, "--session", ctx.sessionID, "--server", server]
        argv.push("--agent", args.agent || ctx.agent, "--caller-message", ctx.messageID, "--detach", "--json")
        argv.push("--", args.text)
        let res: Result
        try {
          res = await ocfork(argv, ctx.abort)
        } catch (e) {
          throw new Error(`cannot run ocfork at ${OCFORK}: ${(e as Error).message}; set OCFORK_BIN or run \`ocfork plugin install\` again`)
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
