import { describe, expect, it } from "vitest";
import { checkAddress, hostPort, splitAddress } from "./address.js";

describe("splitAddress (materialization configs)", () => {
  it("reads host, host:port, [v6]:port and a bare v6 address, with the default port", () => {
    expect(splitAddress("db", 5432)).toEqual({ host: "db", port: 5432 });
    expect(splitAddress("db:6000", 3306)).toEqual({ host: "db", port: 6000 });
    expect(splitAddress("[::1]:7000", 3306)).toEqual({ host: "::1", port: 7000 });
    expect(splitAddress("[::1]", 3306)).toEqual({ host: "::1", port: 3306 });
    expect(splitAddress("fe80::1", 5432)).toEqual({ host: "fe80::1", port: 5432 });
  });
  it("names the address field when the port is bad", () => {
    expect(() => splitAddress("db:70000", 5432)).toThrow('endpoint config field "address" has an invalid port "70000"');
    expect(() => splitAddress("db:x", 5432)).toThrow(/invalid port "x"/);
  });
});

describe("checkAddress and hostPort (capture configs)", () => {
  it("accepts host, host:port and [v6]:port, and splits them with the default port", () => {
    for (const a of ["db", "db:1", "[::1]", "[::1]:99"]) expect(() => checkAddress(a, 3306)).not.toThrow();
    expect(hostPort("db", 3306)).toEqual({ host: "db", port: 3306 });
    expect(hostPort("db:1234", 5432)).toEqual({ host: "db", port: 1234 });
    expect(hostPort("[::1]:99", 5432)).toEqual({ host: "::1", port: 99 });
  });
  it("refuses URLs and spaces, with the engine's port in the example", () => {
    expect(() => checkAddress("postgres://u:p@db", 5432)).toThrow('endpoint config /address must be host or host:port, like "db.example.com:5432"');
    expect(() => checkAddress("d b", 3306)).toThrow(/db\.example\.com:3306/);
  });
});
