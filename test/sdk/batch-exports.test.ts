/**
 * The batch helpers the GUIDE points connector authors to are part of the
 * public SDK (`tributary/sdk`), not only of modules a project outside this
 * repository cannot import.
 */
import { expect, it } from "vitest";
import * as sdk from "../../src/sdk/index.js";
import { sendDocuments } from "../../src/sdk/capture.js";
import { loadedBatch } from "../../src/sdk/materialize.js";

it("exports sendDocuments and loadedBatch from the SDK's entry point", () => {
  expect(sdk.sendDocuments).toBe(sendDocuments);
  expect(sdk.loadedBatch).toBe(loadedBatch);
});
