// The +switch-master message as the sentinels publish it; the behaviour it
// drives is tested against real sentinels in redis.failover.test.ts.
import { describe, expect, it } from "vitest";
import { parseSwitchMaster } from "../src/store/sentinelSwitch.js";

describe("parseSwitchMaster", () => {
  it("reads the master's name and its new address", () => {
    expect(parseSwitchMaster("enigma 127.0.0.1 40483 127.0.0.1 35827")).toEqual({ name: "enigma", host: "127.0.0.1", port: 35827 });
    expect(parseSwitchMaster("other 10.0.0.1 6379 redis-2.internal 6380")).toEqual({ name: "other", host: "redis-2.internal", port: 6380 });
  });
  it("ignores anything else", () => {
    for (const bad of ["", "enigma", "enigma 127.0.0.1 1 127.0.0.1", "enigma 127.0.0.1 1 127.0.0.1 x", "enigma 127.0.0.1 1 127.0.0.1 0", "enigma 127.0.0.1 1 127.0.0.1 70000", "a b c d e f"]) {
      expect(parseSwitchMaster(bad)).toBeNull();
    }
  });
});
