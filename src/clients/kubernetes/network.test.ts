// Remote IPs and CIDRs of the network policy actionners: canonical forms (so accumulated denies never hold
// one address twice), validation with Talon's message, and containment for NetworkPolicy `except`.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { KestrelError } from "../../errors.ts";
import type { FalcoEvent } from "../../events/event.ts";
import { canonicalIp, cidrList, contains, parseCidr, remoteIpOf, uniqueCidrs } from "./network.ts";

const event = (fields: Record<string, unknown>) => ({ outputFields: fields }) as unknown as FalcoEvent;

describe("IP addresses and CIDRs", () => {
  it("writes addresses canonically: IPv6 compressed and lower case, IPv4-mapped IPv6 as IPv4", () => {
    assert.deepEqual(canonicalIp("2001:0DB8:0:0::0001"), { address: "2001:db8::1", family: 6 });
    assert.deepEqual(canonicalIp("[2001:db8::1]"), { address: "2001:db8::1", family: 6 });
    assert.deepEqual(canonicalIp("::ffff:10.1.2.3"), { address: "10.1.2.3", family: 4 });
    assert.deepEqual(canonicalIp(" 8.8.8.8 "), { address: "8.8.8.8", family: 4 });
    for (const bad of ["", "1.2.3", "1.2.3.256", "010.1.1.1", "example.com", "1.2.3.4/32", "::g"])
      assert.equal(canonicalIp(bad), undefined, bad);
  });

  it("parses CIDRs of both families and refuses prefixes beyond the family's width", () => {
    assert.equal(parseCidr("192.168.1.0/24")?.text, "192.168.1.0/24");
    assert.equal(parseCidr("2001:DB8::/32")?.text, "2001:db8::/32");
    assert.equal(parseCidr("0.0.0.0/0")?.prefix, 0);
    for (const bad of ["192.168.1.0", "192.168.1.0/33", "::/129", "10.0.0.0/-1", "[::1]/128", "x/8", "10.0.0.0/ 8"]) {
      assert.equal(parseCidr(bad), undefined, bad);
    }
  });

  it("validates CIDR parameters with Talon's message and defaults them to an empty list", () => {
    const schema = cidrList("allowed");
    assert.deepEqual(schema.parse(undefined), []);
    const result = schema.safeParse(["10.0.0.0/8", "10.0.0.0/40"]);
    assert.equal(result.success, false);
    assert.match(result.error!.issues[0]!.message, /wrong CIDR '10\.0\.0\.0\/40'/);
    assert.deepEqual(result.error!.issues[0]!.path, [1]);
  });

  it("deduplicates CIDRs by their canonical text, keeping the first-seen order", () => {
    const texts = uniqueCidrs(["2001:db8::1/128", "1.2.3.4/32", "2001:0db8:0::1/128", "1.2.3.4/32", "bogus"]).map((c) => c.text);
    assert.deepEqual(texts, ["2001:db8::1/128", "1.2.3.4/32"]);
  });

  it("tells whether a host lies inside a block of the same family", () => {
    const ip = parseCidr("10.2.3.4/32")!;
    assert.equal(contains(parseCidr("10.0.0.0/8")!, ip), true);
    assert.equal(contains(parseCidr("192.168.0.0/16")!, ip), false);
    assert.equal(contains(parseCidr("::/0")!, ip), false);
    assert.equal(contains(parseCidr("2001:db8::/32")!, parseCidr("2001:db8::5/128")!), true);
  });

  it("takes the remote IP from fd.rip, else fd.sip, as /32 or /128", () => {
    assert.equal(remoteIpOf(event({ "fd.rip": "203.0.113.9", "fd.sip": "10.0.0.1" })).text, "203.0.113.9/32");
    assert.equal(remoteIpOf(event({ "fd.sip": "2001:db8::9" })).text, "2001:db8::9/128");
    assert.equal(remoteIpOf(event({ "fd.rip": null, "fd.sip": "10.0.0.1" })).text, "10.0.0.1/32");
  });

  it("fails in preflight terms when the event has no valid remote IP", () => {
    assert.throws(
      () => remoteIpOf(event({ "fd.name": "x" })),
      (e: unknown) => e instanceof KestrelError && e.code === "ERR_PREFLIGHT" && /no remote IP .*fd\.rip, fd\.sip/.test(e.message),
    );
    assert.throws(
      () => remoteIpOf(event({ "fd.rip": "not-an-ip" })),
      (e: unknown) =>
        e instanceof KestrelError && e.code === "ERR_PREFLIGHT" && /fd\.rip 'not-an-ip' is not a valid IP address/.test(e.message),
    );
  });
});
