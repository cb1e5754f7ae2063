import { describe, expect, it } from "vitest";
import { ClientIpResolver, normalizeIp, parseForwardedEntry } from "../src/guard/clientIp.js";

describe("ClientIpResolver without trusted proxies", () => {
  const r = new ClientIpResolver([]);

  it("uses the TCP peer and ignores x-forwarded-for", () => {
    expect(r.resolve("203.0.113.9", "198.51.100.1")).toBe("203.0.113.9");
  });

  it("normalises IPv4-mapped IPv6 peers", () => {
    expect(r.resolve("::ffff:127.0.0.1", undefined)).toBe("127.0.0.1");
    expect(r.resolve("2001:db8::1", undefined)).toBe("2001:db8::1");
  });

  it("answers unknown without a peer", () => {
    expect(r.resolve(undefined, "198.51.100.1")).toBe("unknown");
    expect(r.resolve("", undefined)).toBe("unknown");
  });
});

describe("ClientIpResolver with trusted proxies", () => {
  const r = new ClientIpResolver(["10.0.0.0/8", "192.0.2.7", "2001:db8:ffff::/48", "::ffff:172.16.0.1"]);

  it("ignores x-forwarded-for from an untrusted peer (no dodging the limit)", () => {
    expect(r.resolve("203.0.113.9", "198.51.100.1")).toBe("203.0.113.9");
  });

  it("takes the right-most untrusted address from a trusted peer", () => {
    expect(r.resolve("10.1.2.3", "198.51.100.1")).toBe("198.51.100.1");
    // spoofed left part is never reached
    expect(r.resolve("10.1.2.3", "6.6.6.6, 198.51.100.1, 10.9.9.9, 192.0.2.7")).toBe("198.51.100.1");
  });

  it("treats a trusted mapped peer and mapped entries like plain IPv4", () => {
    expect(r.resolve("::ffff:10.0.0.1", "::ffff:198.51.100.1")).toBe("198.51.100.1");
    expect(r.resolve("172.16.0.1", "198.51.100.2")).toBe("198.51.100.2");
  });

  it("matches IPv6 CIDRs", () => {
    expect(r.resolve("2001:db8:ffff::5", "2001:db8:1::1")).toBe("2001:db8:1::1");
    expect(r.resolve("2001:db8:fffe::5", "2001:db8:1::1")).toBe("2001:db8:fffe::5");
  });

  it("uses the peer when the trusted peer sent no header", () => {
    expect(r.resolve("10.1.2.3", undefined)).toBe("10.1.2.3");
  });

  it("takes the left-most entry when every entry is a trusted proxy", () => {
    expect(r.resolve("10.0.0.1", "10.0.0.3, 10.0.0.2")).toBe("10.0.0.3");
  });

  it("stops at a malformed entry and keeps the last good address", () => {
    expect(r.resolve("10.0.0.1", "198.51.100.1, garbage")).toBe("10.0.0.1");
    expect(r.resolve("10.0.0.1", "198.51.100.1, , 10.0.0.2")).toBe("10.0.0.2");
    expect(r.resolve("10.0.0.1", "198.51.100.1, 999.1.1.1, 10.0.0.2")).toBe("10.0.0.2");
    expect(r.resolve("10.0.0.1", "")).toBe("10.0.0.1");
    expect(r.resolve("10.0.0.1", "198.51.100.1,")).toBe("10.0.0.1");
  });

  it("accepts ports and brackets the way proxies write them", () => {
    expect(r.resolve("10.0.0.1", "198.51.100.1:4711")).toBe("198.51.100.1");
    expect(r.resolve("10.0.0.1", "[2001:db8:1::1]:443")).toBe("2001:db8:1::1");
    expect(r.resolve("10.0.0.1", "  2001:db8:1::2  ")).toBe("2001:db8:1::2");
  });

  it("refuses bad trusted_proxies entries", () => {
    expect(() => new ClientIpResolver(["10.0.0.0/33"])).toThrow(/prefix/);
    expect(() => new ClientIpResolver(["2001:db8::/129"])).toThrow(/prefix/);
    expect(() => new ClientIpResolver(["proxy.example"])).toThrow(/not an IP/);
    expect(() => new ClientIpResolver(["10.0.0.0/x"])).toThrow(/prefix/);
  });
});

describe("helpers", () => {
  it("normalizeIp only unwraps IPv4-mapped addresses", () => {
    expect(normalizeIp("::ffff:1.2.3.4")).toBe("1.2.3.4");
    expect(normalizeIp("::FFFF:1.2.3.4")).toBe("1.2.3.4");
    expect(normalizeIp("::ffff:abcd")).toBe("::ffff:abcd");
    expect(normalizeIp("::1")).toBe("::1");
  });

  it("parseForwardedEntry refuses junk", () => {
    expect(parseForwardedEntry("1.2.3.4")).toBe("1.2.3.4");
    expect(parseForwardedEntry("1.2.3.4:")).toBeNull();
    expect(parseForwardedEntry("1.2.3.4:http")).toBeNull();
    expect(parseForwardedEntry("[1.2.3.4]")).toBeNull();
    expect(parseForwardedEntry("[::1")).toBeNull();
    expect(parseForwardedEntry("[::1]x")).toBeNull();
    expect(parseForwardedEntry("unknown")).toBeNull();
    expect(parseForwardedEntry("")).toBeNull();
  });
});
