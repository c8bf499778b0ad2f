import { describe, expect, it } from "vitest";
import { bindingState, bindingStateUpdate, dropStale, applyStateUpdate } from "../../src/sdk/index.js";

describe("per-binding state helpers", () => {
  const a = { stateKey: "users.v1" };
  const b = { stateKey: "orders.v1" };

  it("reads a binding's entry by its state key", () => {
    const state = { bindingStateV1: { "users.v1": { cursor: 7 } } };
    expect(bindingState(state, a)).toEqual({ cursor: 7 });
    expect(bindingState(state, b)).toBeUndefined();
    expect(bindingState({}, a)).toBeUndefined();
    expect(bindingState(null, "users.v1")).toBeUndefined();
  });

  it("updates some bindings and leaves the others", () => {
    const state = { bindingStateV1: { "users.v1": { cursor: 7, mode: "backfill" }, "orders.v1": { cursor: 1 } }, other: true };
    const next = applyStateUpdate(state, bindingStateUpdate([[a, { cursor: 9, mode: null }]]));
    expect(next).toEqual({ bindingStateV1: { "users.v1": { cursor: 9 }, "orders.v1": { cursor: 1 } }, other: true });
    const removed = applyStateUpdate(next, bindingStateUpdate([["orders.v1", null]]));
    expect(removed).toEqual({ bindingStateV1: { "users.v1": { cursor: 9 } }, other: true });
  });

  it("drops entries of state keys no binding has", () => {
    const state = { bindingStateV1: { "users.v1": {}, "users.v0": {}, gone: {} } };
    const update = dropStale(state, [a, b]);
    expect(applyStateUpdate(state, update!)).toEqual({ bindingStateV1: { "users.v1": {} } });
    expect(dropStale({ bindingStateV1: { "users.v1": {} } }, [a])).toBeUndefined();
  });

  it("refuses a binding without a state key", () => {
    expect(() => bindingStateUpdate([[{ stateKey: "" }, {}]])).toThrow(/no stateKey/);
  });
});
