// The exec interpreter on its own (no network): quoting and expansion as sh does them, control flow,
// pipes and redirections on the fake file system, the exec log, and the capture stand-ins' file formats.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { gunzipSync } from "node:zlib";
import { ContainerState } from "./fakefs.ts";
import { BufferInput, Collector, emptyInput, text } from "./io.ts";
import { ExecNotFound, runProgram, type Session } from "./shell.ts";

interface RunResult {
  code: number;
  stdout: string;
  stdoutBytes: Uint8Array;
  stderr: string;
  log: string[][];
  state: ContainerState;
}

async function run(
  script: string | string[],
  o: { stdin?: string; state?: ContainerState; timeScale?: number; signal?: AbortSignal } = {},
): Promise<RunResult> {
  const state = o.state ?? new ContainerState(undefined, "web-1", "app");
  const log: string[][] = [];
  const session: Session = {
    namespace: "prod",
    pod: "web-1",
    container: "app",
    state,
    timeScale: o.timeScale ?? 0.01,
    custom: new Map(),
    log: (argv) => log.push(argv),
  };
  const stdout = new Collector();
  const stderr = new Collector();
  const argv = typeof script === "string" ? ["sh", "-c", script] : script;
  const io = { stdin: o.stdin === undefined ? emptyInput() : new BufferInput(o.stdin), stdout, stderr };
  const code = await runProgram(argv, io, { ...state.env }, "/", session, o.signal ?? new AbortController().signal, "exec");
  return { code, stdout: text(stdout.data), stdoutBytes: stdout.data, stderr: text(stderr.data), log, state };
}

const names = (log: string[][]) => log.map((argv) => argv[0]);

describe("sh quoting and expansion", () => {
  it("resolves single quotes, double quotes with $VAR, and backslashes into argv", async () => {
    const r = await run(`X=val; echo 'a b' "c $HOME \\$X" d\\ e $X "" end`);
    assert.equal(r.code, 0);
    assert.deepEqual(r.log.at(-1), ["echo", "a b", "c /root $X", "d e", "val", "", "end"]);
    assert.equal(r.stdout, "a b c /root $X d e val  end\n");
  });

  it("keeps a quoted '; rm -rf /' inside one argument: no rm ever runs", async () => {
    const r = await run(`cat '/tmp/x; rm -rf /' "/tmp/y && rm -rf /" /tmp/z\\;rm`);
    assert.equal(r.code, 1);
    assert.deepEqual(r.log.at(-1), ["cat", "/tmp/x; rm -rf /", "/tmp/y && rm -rf /", "/tmp/z;rm"]);
    assert.ok(!names(r.log).includes("rm"));
    assert.match(r.stderr, /^cat: \/tmp\/x; rm -rf \/: No such file or directory$/m);
  });

  it("runs an unquoted injection, so the log shows it (the log is what tests rely on)", async () => {
    const r = await run("echo /tmp/x; rm -rf /tmp/a");
    assert.deepEqual(
      r.log.map((a) => a.join(" ")),
      ["sh -c echo /tmp/x; rm -rf /tmp/a", "echo /tmp/x", "rm -rf /tmp/a"],
    );
  });

  it("runs command substitution unless it is single-quoted", async () => {
    const quoted = await run(`echo '$(touch /tmp/pwned)' '\`id\`'`);
    assert.equal(quoted.stdout, "$(touch /tmp/pwned) `id`\n");
    assert.ok(!names(quoted.log).includes("touch"));
    const live = await run(`echo "user: $(whoami)" \`hostname\``);
    assert.equal(live.stdout, "user: root web-1\n");
    assert.deepEqual(names(live.log), ["sh", "whoami", "hostname", "echo"]);
  });

  it("splits unquoted expansions into fields but not quoted ones", async () => {
    const r = await run(`V='a  b'; printf '[%s]' $V; printf '[%s]' "$V"; echo`);
    assert.equal(r.stdout, "[a][b][a  b]\n");
  });

  it('passes sh -c positional parameters, with "$@" keeping each argument whole', async () => {
    const r = await run(["sh", "-c", `printf '%s|' "$0" "$@"; echo " $# $1"`, "name", "a", "b c"]);
    assert.equal(r.stdout, "name|a|b c| 2 a\n");
  });

  it("expands ${VAR:-default}, ${#VAR}, $? and $(( ))", async () => {
    const r = await run(`echo \${NOPE:-fallback} \${HOME:+set} \${#HOME}; false; echo $?; echo $((3 * (4 + 1) % 7))`);
    assert.equal(r.stdout, "fallback set 5\n1\n1\n");
  });

  it("globs on the fake file system, leaving quoted and unmatched patterns alone", async () => {
    const state = new ContainerState(undefined, "web-1", "app");
    state.fs.put("/var/log/a.log", new TextEncoder().encode("A"));
    state.fs.put("/var/log/b.log", new TextEncoder().encode("B"));
    const r = await run(`echo /var/log/*.log; echo '/var/log/*.log' /none/*.x`, { state });
    assert.equal(r.stdout, "/var/log/a.log /var/log/b.log\n/var/log/*.log /none/*.x\n");
  });

  it("reports syntax errors like dash, with exit status 2", async () => {
    const r = await run("echo 'unterminated");
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Syntax error: Unterminated quoted string/);
    const r2 = await run("echo a; ; echo b");
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /Syntax error: ";" unexpected/);
  });
});

describe("sh control flow", () => {
  it("honours ;, && and || with exit statuses, and exit N", async () => {
    const r = await run("false || echo one; true && echo two; false && echo never; exit 7; echo after");
    assert.equal(r.stdout, "one\ntwo\n");
    assert.equal(r.code, 7);
    assert.ok(!r.log.some((a) => a.includes("never") || a.includes("after")));
  });

  it("runs if/elif/else, for and while loops", async () => {
    const r = await run(`
      for f in a b c; do
        if [ "$f" = a ]; then echo "first $f"; elif [ "$f" = b ]; then echo "second $f"; else echo "other $f"; fi
      done
      i=0
      while [ $i -lt 3 ]; do i=$((i + 1)); done
      echo "i=$i"
    `);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "first a\nsecond b\nother c\ni=3\n");
  });

  it("implements test/[ with POSIX rules and dash's errors", async () => {
    const r = await run(
      `[ -f /etc/passwd ] && echo file; [ -d /etc ] && echo dir; [ "-n" = -n ] && echo eq; test 3 -gt 2 && echo gt; [ ! -e /nope ] && echo absent`,
    );
    assert.equal(r.stdout, "file\ndir\neq\ngt\nabsent\n");
    const bad = await run("[ abc -eq 1 ]");
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /Illegal number: abc/);
    const unclosed = await run("[ 1 = 1");
    assert.equal(unclosed.code, 2);
    assert.match(unclosed.stderr, /missing ]/);
  });

  it("stops at the first failure under set -e, but not in conditions", async () => {
    const r = await run("set -e; if false; then echo no; fi; false || echo handled; cat /missing; echo unreachable");
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "handled\n");
  });

  it("answers 127 and 'not found' for unknown commands, and fails the exec for a missing program", async () => {
    const r = await run("apt-get install curl");
    assert.equal(r.code, 127);
    assert.equal(r.stderr, "sh: 1: apt-get: not found\n");
    await assert.rejects(run(["nosuch", "arg"]), (err: unknown) => err instanceof ExecNotFound && err.program === "nosuch");
    const state = new ContainerState(undefined, "web-1", "app");
    state.missing.add("sh");
    await assert.rejects(run("echo hi", { state }), ExecNotFound);
  });
});

describe("pipes, redirections and files", () => {
  it("streams pipelines and returns the last command's status", async () => {
    const r = await run(`printf 'a\\nb\\nc\\n' | head -n 2 | wc -l; echo x | false; echo $?`);
    assert.equal(r.stdout, "2\n1\n");
  });

  it("writes, appends and reads files with >, >>, < and 2>&1, and reports missing directories", async () => {
    const r = await run("echo a > /tmp/f; echo b >> /tmp/f; cat < /tmp/f; cat /nope 2>&1; cat /nope 2>/dev/null || echo quiet");
    assert.equal(r.stdout, "a\nb\ncat: /nope: No such file or directory\nquiet\n");
    assert.equal(text(r.state.fs.read("/tmp/f")!), "a\nb\n");
    const bad = await run("echo x > /no/such/dir/f");
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /cannot create \/no\/such\/dir\/f: Directory nonexistent/);
  });

  it("feeds here-documents, expanding them unless the delimiter is quoted", async () => {
    const r = await run("cat <<EOF\nhome=$HOME\nEOF\ncat <<'EOF'\nhome=$HOME\nEOF\n");
    assert.equal(r.stdout, "home=/root\nhome=$HOME\n");
  });

  it("runs Talon's script steps: argv tee (no shell), then sh on the file", async () => {
    const state = new ContainerState(undefined, "web-1", "app");
    const script = "timeout 5s tcpdump -n -i any -s 0 -w /tmp/tcpdump.pcap || [ $? -eq 124 ] && echo OK || exit 1\n";
    const tee = await run(["tee", "/tmp/talon-script.sh", ">", "/dev/null"], { stdin: script, state });
    assert.equal(tee.code, 0);
    assert.equal(tee.stdout, script);
    // Without a shell, ">" is just another file name for tee.
    assert.ok(state.fs.isFile("/>"));
    const started = Date.now();
    const sh = await run(["sh", "/tmp/talon-script.sh"], { state });
    assert.equal(sh.code, 0, sh.stderr);
    assert.equal(sh.stdout, "OK\n");
    assert.ok(Date.now() - started < 2000);
    assert.deepEqual(names(sh.log), ["sh", "timeout", "tcpdump", "[", "echo"]);
    const pcap = Buffer.from(state.fs.read("/tmp/tcpdump.pcap")!);
    assert.equal(pcap.readUInt32LE(0), 0xa1b2c3d4);
    assert.equal(pcap.readUInt16LE(4), 2);
    assert.equal(pcap.readUInt32LE(16), 262144);
    assert.equal(pcap.readUInt32LE(20), 276);
    assert.match(sh.stderr, /listening on any, link-type LINUX_SLL2/);
  });

  it("writes pcap records that parse (tcpdump -c) and SIGPIPEs tcpdump when head closes the pipe", async () => {
    const r = await run(["tcpdump", "-i", "eth0", "-c", "3", "-w", "-"]);
    assert.equal(r.code, 0);
    const buf = Buffer.from(r.stdoutBytes);
    let off = 24;
    let packets = 0;
    while (off < buf.length) {
      const incl = buf.readUInt32LE(off + 8);
      const frame = buf.subarray(off + 16, off + 16 + incl);
      assert.equal(frame.readUInt16BE(12), 0x0800);
      assert.equal(frame[14]! >> 4, 4);
      off += 16 + incl;
      packets++;
    }
    assert.equal(packets, 3);
    assert.match(r.stderr, /3 packets captured/);
    const rotated = await run("tcpdump -i eth0 -G 1 -W 2 -w /tmp/rot.pcap && echo rotated-and-done");
    assert.equal(rotated.stdout, "rotated-and-done\n");
    assert.equal(Buffer.from(rotated.state.fs.read("/tmp/rot.pcap")!).readUInt32LE(20), 1, "Ethernet link type off 'any'");
    const piped = await run("tcpdump -w - -i any | head -c 24 | base64 -w0");
    assert.equal(piped.code, 0);
    assert.equal(Buffer.from(piped.stdout, "base64").readUInt32LE(0), 0xa1b2c3d4);
  });

  it("writes a gzip scap file with sysdig -M -z -w", async () => {
    const r = await run(
      'sysdig --modern-bpf --cri /run/containerd/containerd.sock -M 2 -s 2048 -z -w /tmp/sysdig.scap.gz "container.id in (abc)"',
    );
    assert.equal(r.code, 0, r.stderr);
    const raw = gunzipSync(Buffer.from(r.state.fs.read("/tmp/sysdig.scap.gz")!));
    assert.equal(raw.readUInt32LE(0), 0x0a0d0d0a);
    assert.equal(raw.readUInt32LE(8), 0x1a2b3c4d);
    assert.ok(raw.length > 28);
  });

  it("refuses rm -rf / like GNU rm, and removes files otherwise", async () => {
    const r = await run("rm -rf /; echo $?; rm /etc/hostname; cat /etc/hostname");
    assert.match(r.stderr, /dangerous to operate recursively on '\/'/);
    assert.equal(r.stdout, "1\n");
    assert.equal(r.state.fs.read("/etc/hostname"), undefined);
  });

  it("round-trips base64 and counts bytes", async () => {
    const r = await run("printf 'hello' | base64; printf 'aGVsbG8=' | base64 -d; echo; printf 'hello' | wc -c");
    assert.equal(r.stdout, "aGVsbG8=\nhello\n5\n");
  });

  it("lists processes with ps (the container's main process and the running commands)", async () => {
    const r = await run("ps aux");
    assert.match(r.stdout, /^USER +PID/);
    assert.match(r.stdout, /\nroot +1 .* nginx: master process/);
    assert.match(r.stdout, /ps aux/);
  });
});

describe("time and cancellation", () => {
  it("kills sleep on abort (143) and times out with 124", async () => {
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 20);
    const r = await run("sleep 100", { timeScale: 1, signal: controller.signal });
    assert.equal(r.code, 143);
    assert.ok(Date.now() - started < 1000);
    const t = await run("timeout 1 sleep 100; echo $?", { timeScale: 0.02 });
    assert.equal(t.stdout, "124\n");
  });

  it("runs background jobs and waits for them", async () => {
    const r = await run("(sleep 1; echo bg) & echo started; wait; echo done");
    assert.equal(r.stdout, "started\nbg\ndone\n");
  });
});
