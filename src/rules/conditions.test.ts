// The grammar of `output_fields` and `tags` items: what parses, what is refused, and where the error is.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseOutputFieldsItem, parseTagsItem } from "./conditions.ts";

function conditions(text: string) {
  const r = parseOutputFieldsItem(text);
  assert.ok(r.ok, r.ok ? "" : JSON.stringify(r.problems));
  return r.value;
}

function problems(text: string) {
  const r = parseOutputFieldsItem(text);
  assert.equal(r.ok, false, `"${text}" should be refused`);
  return r.ok ? [] : r.problems;
}

describe("output_fields items", () => {
  it("parses = and != conditions, trimming spaces around key, operator and value", () => {
    assert.deepEqual(conditions("k8s.ns.name!=kube-system, k8s.ns.name != falco ,fd.rport= 80"), [
      { key: "k8s.ns.name", op: "!=", value: "kube-system" },
      { key: "k8s.ns.name", op: "!=", value: "falco" },
      { key: "fd.rport", op: "=", value: "80" },
    ]);
  });

  it("accepts the keys Talon refused: _, -, /, : and brackets", () => {
    for (const key of [
      "proc.is_exe_writable",
      "k8s.pod.label[app.kubernetes.io/name]",
      "proc.aname[2]",
      "gcp.resource-name",
      "plugin:field",
    ]) {
      assert.deepEqual(conditions(`${key}=x`), [{ key, op: "=", value: "x" }]);
    }
  });

  it("removes quotes, which may protect '=' and ','", () => {
    assert.deepEqual(conditions(`proc.cmdline="a=b, c", user.name='root'`), [
      { key: "proc.cmdline", op: "=", value: "a=b, c" },
      { key: "user.name", op: "=", value: "root" },
    ]);
  });

  it("allows an empty value", () => {
    assert.deepEqual(conditions("container.name="), [{ key: "container.name", op: "=", value: "" }]);
  });

  it("refuses an unquoted value with '=' or '\"', at the offending character", () => {
    const [p] = problems("proc.cmdline=a=b");
    assert.match(p!.message, /quote a value/);
    assert.equal(p!.offset, 14);
    assert.equal(problems('a=b"c').length, 1);
    assert.equal(problems("a==b").length, 1);
  });

  it("refuses a piece without an operator, an empty key, a bad key or a stray '!'", () => {
    assert.match(problems("k8s.ns.name")[0]!.message, /malformed condition 'k8s.ns.name'/);
    assert.match(problems("a=b, =c")[0]!.message, /empty key/);
    assert.equal(problems("a=b, =c")[0]!.offset, 5);
    assert.match(problems("k8s ns=x")[0]!.message, /invalid field key/);
    assert.match(problems("a!b")[0]!.message, /expected '!='/);
  });

  it("refuses empty items and empty conditions", () => {
    assert.match(problems("")[0]!.message, /empty output_fields item/);
    assert.match(problems("a=b,")[0]!.message, /empty condition/);
    assert.match(problems("a=b, ,c=d")[0]!.message, /empty condition/);
  });

  it("refuses unterminated quotes and text after a quoted value", () => {
    assert.match(problems('a="b')[0]!.message, /unterminated/);
    assert.match(problems('a="b"c')[0]!.message, /unexpected text/);
  });

  it("reports every malformed piece of an item", () => {
    assert.equal(problems("a=b=c, d, e=f").length, 2);
  });
});

describe("tags items", () => {
  it("splits on commas and trims", () => {
    const r = parseTagsItem(" container , shell,mitre-execution, T1059:x/y ");
    assert.deepEqual(r, { ok: true, value: ["container", "shell", "mitre-execution", "T1059:x/y"] });
  });

  it("refuses empty tags and tags with spaces, with their offset", () => {
    const r = parseTagsItem("a, ,b c");
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.deepEqual(
      r.problems.map((p) => [p.message.split(":")[0], p.offset]),
      [
        ["empty tag", 3],
        ["incorrect tag 'b c'", 4],
      ],
    );
  });
});
