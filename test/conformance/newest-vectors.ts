/**
 * Hand-encoded vectors for the fields of the newest Flow protocol (estuary/flow
 * 476a7a41): each is written here field by field from the upstream field
 * numbers with a small protobuf writer of its own, not with our generated
 * code, so a wrong number or type in our protos shows up as a mismatch.
 * `NAME.bin` / `NAME.json` under test/conformance/vectors/ are these, written
 * by `UPDATE_VECTORS=1 npx vitest run test/conformance/newest-vectors.test.ts`.
 *
 * Field numbers (see the README's note on where each was confirmed):
 *   capture.Request: discover 2 {connector_type 1, config_json 2, name 3,
 *     created_at 4, secrets 5}; validate 3 {name 1, connector_type 2,
 *     config_json 3, bindings 4 {resource_config_json 1, collection 2,
 *     backfill 3, collection_index 4}, linked_collections 7, secrets 8};
 *     apply 4 {capture 1, version 2, state_json 6}; open 5 {capture 1,
 *     version 2, range 3, state_json 4, sealed_config_json 5}.
 *   capture.Response: discovered 2 {bindings 1 {recommended_name 1,
 *     resource_config_json 2, document_schema_json 3, key 4, resource_path 6,
 *     is_fallback_key 7}}; applied 4 {action_description 1, state 2};
 *     backfill_begin 9 {binding 1}; backfill_complete 10 {binding 1}.
 *   materialize.Request: validate 2 {name 1, connector_type 2, config_json 3,
 *     bindings 4 {resource_config_json 1, field_config_json_map 3, backfill 4,
 *     group_by 5, collection_index 6}, linked_collections 7, secrets 8};
 *     open 4 {materialization 1, version 2, range 3, state_json 4,
 *     sealed_config_json 5}; flush 6 {state_patches_json 1, backfill_begins 2
 *     {binding 1, timestamp 2}, backfill_completes 3}.
 *   materialize.Response: validated 2 {bindings 1 {constraints 1 (map),
 *     resource_path 2, delta_updates 3, projection_constraints 6 {field 1,
 *     constraint 2 {type 2, reason 3, folded_field 4}}}}.
 *   flow.CaptureSpec: name 1, connector_type 2, config_json 3, bindings 4
 *     {resource_config_json 1, resource_path 2, backfill 4, state_key 5,
 *     collection_index 6}, created_at 11, linked_collections 12, secrets 13.
 *   flow.MaterializationSpec: name 1, connector_type 2, config_json 3,
 *     bindings 4 {resource_config_json 1, resource_path 2, field_selection 4
 *     {keys 1, values 2, document 3}, state_key 13, collection_index 15},
 *     created_at 11, linked_collections 13, secrets 14.
 *   flow.CollectionSpec: name 1, key 3, write_schema_json 8.
 *   flow.RangeSpec: key_end 3 (fixed32), r_clock_end 5 (fixed32).
 *   flow.ConnectorState: updated_json 1, merge_patch 2.
 *   google.protobuf.Timestamp: seconds 1.
 */

// ------------------------------------------------------------ a tiny writer

type Part = Uint8Array;

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return out;
}
const utf8 = (s: string) => new TextEncoder().encode(s);
const cat = (parts: Part[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
/** Wire type 0. */
const uint = (no: number, n: number): Part => Uint8Array.from([...varint(no << 3), ...varint(n)]);
/** Wire type 2. */
const bytes = (no: number, b: Part): Part => cat([Uint8Array.from([...varint((no << 3) | 2), ...varint(b.length)]), b]);
const str = (no: number, s: string) => bytes(no, utf8(s));
const msg = (no: number, ...fields: Part[]) => bytes(no, cat(fields));
/** Wire type 5. */
const fixed32 = (no: number, n: number): Part => {
  const b = new Uint8Array(5);
  b[0] = (no << 3) | 5;
  new DataView(b.buffer).setUint32(1, n, true);
  return b;
};
/** One map<string, V> entry: key 1, value 2. */
const entry = (no: number, key: string, value: Part) => msg(no, str(1, key), value);

// ------------------------------------------------------------- the vectors

export interface NewestVector {
  name: string;
  type: string;
  bin: Uint8Array;
  json: string;
}

const orders = (idx: number) => [str(1, `acmeCo/orders${idx}`), str(3, "/id"), str(8, '{"type":"object"}')];
const ordersJson = (idx: number) => `{"name":"acmeCo/orders${idx}","key":["/id"],"writeSchema":{"type":"object"}}`;

export const NEWEST_VECTORS: NewestVector[] = [
  {
    name: "newest_capture_request_discover",
    type: "capture.Request",
    bin: msg(2, uint(1, 7), str(2, '{"host":"db"}'), str(3, "acmeCo/source"), str(4, "2026-06-01T12:00:00Z"), entry(5, "pg_password", str(2, "hunter2"))),
    json: '{"discover":{"connectorType":"IMAGE","config":{"host":"db"},"name":"acmeCo/source","createdAt":"2026-06-01T12:00:00Z","secrets":{"pg_password":"hunter2"}}}',
  },
  {
    name: "newest_capture_request_validate",
    type: "capture.Request",
    bin: msg(
      3,
      str(1, "acmeCo/source"),
      uint(2, 7),
      str(3, "{}"),
      msg(4, str(1, '{"table":"b"}'), uint(3, 2), uint(4, 1)),
      msg(4, str(1, '{"table":"a"}')),
      msg(7, ...orders(0)),
      msg(7, ...orders(1)),
      entry(8, "token", str(2, "s3cr3t")),
    ),
    json:
      '{"validate":{"name":"acmeCo/source","connectorType":"IMAGE","config":{},' +
      '"bindings":[{"resourceConfig":{"table":"b"},"backfill":2,"collectionIndex":1},{"resourceConfig":{"table":"a"}}],' +
      `"linkedCollections":[${ordersJson(0)},${ordersJson(1)}],"secrets":{"token":"s3cr3t"}}}`,
  },
  {
    name: "newest_capture_request_apply",
    type: "capture.Request",
    bin: msg(
      4,
      msg(
        1,
        str(1, "acmeCo/source"),
        uint(2, 7),
        str(3, "{}"),
        msg(4, str(1, '{"table":"a"}'), str(2, "a"), uint(4, 1), str(5, "a.v1")),
        msg(4, str(1, '{"table":"b"}'), str(2, "b"), str(5, "b"), uint(6, 1)),
        str(11, "2026-06-01T12:00:00Z"),
        msg(12, ...orders(0)),
        msg(12, ...orders(1)),
        entry(13, "token", str(2, "s3cr3t")),
      ),
      str(2, "v2"),
      str(6, '{"cursor":"0/16B3748"}'),
    ),
    json:
      '{"apply":{"capture":{"name":"acmeCo/source","connectorType":"IMAGE","config":{},' +
      '"bindings":[{"resourceConfig":{"table":"a"},"resourcePath":["a"],"backfill":1,"stateKey":"a.v1"},' +
      '{"resourceConfig":{"table":"b"},"resourcePath":["b"],"stateKey":"b","collectionIndex":1}],' +
      `"createdAt":"2026-06-01T12:00:00Z","linkedCollections":[${ordersJson(0)},${ordersJson(1)}],"secrets":{"token":"s3cr3t"}},` +
      '"version":"v2","state":{"cursor":"0/16B3748"}}}',
  },
  {
    name: "newest_capture_request_open",
    type: "capture.Request",
    bin: msg(
      5,
      msg(1, str(1, "acmeCo/source"), uint(2, 8), msg(4, str(1, "{}"), str(5, "a")), msg(12, ...orders(0))),
      str(2, "v2"),
      msg(3, fixed32(3, 0xffffffff), fixed32(5, 0xffffffff)),
      str(4, '{"cursor":"0/0"}'),
      str(5, '{"sops":{"encrypted":true}}'),
    ),
    json:
      `{"open":{"capture":{"name":"acmeCo/source","connectorType":"LOCAL","bindings":[{"resourceConfig":{},"stateKey":"a"}],"linkedCollections":[${ordersJson(0)}]},` +
      '"version":"v2","range":{"keyEnd":4294967295,"rClockEnd":4294967295},"state":{"cursor":"0/0"},"sealedConfig":{"sops":{"encrypted":true}}}}',
  },
  {
    name: "newest_capture_response_discovered",
    type: "capture.Response",
    bin: msg(
      2,
      msg(1, str(1, "keyless"), str(2, '{"table":"keyless"}'), str(3, '{"type":"object"}'), str(4, "/_meta/source/loc"), str(6, "public"), str(6, "keyless"), uint(7, 1)),
      msg(1, str(1, "keyed"), str(2, '{"table":"keyed"}'), str(3, "{}"), str(4, "/id"), str(6, "keyed")),
    ),
    json:
      '{"discovered":{"bindings":[' +
      '{"recommendedName":"keyless","resourceConfig":{"table":"keyless"},"documentSchema":{"type":"object"},"key":["/_meta/source/loc"],"resourcePath":["public","keyless"],"isFallbackKey":true},' +
      '{"recommendedName":"keyed","resourceConfig":{"table":"keyed"},"documentSchema":{},"key":["/id"],"resourcePath":["keyed"]}]}}',
  },
  {
    name: "newest_capture_response_applied",
    type: "capture.Response",
    bin: msg(4, str(1, "created slot"), msg(2, str(1, '{"slot":"flow"}'), uint(2, 1))),
    json: '{"applied":{"actionDescription":"created slot","state":{"updated":{"slot":"flow"},"mergePatch":true}}}',
  },
  {
    name: "newest_capture_response_backfill_begin",
    type: "capture.Response",
    bin: msg(9, uint(1, 3)),
    json: '{"backfillBegin":{"binding":3}}',
  },
  {
    name: "newest_capture_response_backfill_complete",
    type: "capture.Response",
    // Binding 0: an empty message, which must still be present.
    bin: msg(10),
    json: '{"backfillComplete":{}}',
  },
  {
    name: "newest_materialize_request_validate",
    type: "materialize.Request",
    bin: msg(
      2,
      str(1, "acmeCo/sink"),
      uint(2, 8),
      str(3, '{"address":"db:5432"}'),
      msg(4, str(1, '{"table":"t"}'), entry(3, "id", str(2, '{"ddl":"BIGINT"}')), uint(4, 1), str(5, "id"), uint(6, 1)),
      msg(7, ...orders(0)),
      msg(7, ...orders(1)),
      entry(8, "pw", str(2, "hunter2")),
    ),
    json:
      '{"validate":{"name":"acmeCo/sink","connectorType":"IMAGE","config":{"address":"db:5432"},' +
      '"bindings":[{"resourceConfig":{"table":"t"},"fieldConfig":{"id":{"ddl":"BIGINT"}},"backfill":1,"groupBy":["id"],"collectionIndex":1}],' +
      `"linkedCollections":[${ordersJson(0)},${ordersJson(1)}],"secrets":{"pw":"hunter2"}}}`,
  },
  {
    name: "newest_materialize_request_open",
    type: "materialize.Request",
    bin: msg(
      4,
      msg(
        1,
        str(1, "acmeCo/sink"),
        uint(2, 8),
        str(3, "{}"),
        msg(4, str(1, '{"table":"t"}'), str(2, "t"), msg(4, str(1, "id"), str(2, "v"), str(3, "flow_document")), str(13, "t"), uint(15, 1)),
        str(11, "2026-06-01T12:00:00Z"),
        msg(13, ...orders(0)),
        msg(13, ...orders(1)),
        entry(14, "pw", str(2, "hunter2")),
      ),
      str(2, "v3"),
      msg(3, fixed32(3, 0x7fffffff), fixed32(5, 0xffffffff)),
      str(4, "{}"),
      str(5, '{"address":"sealed"}'),
    ),
    json:
      '{"open":{"materialization":{"name":"acmeCo/sink","connectorType":"IMAGE","config":{},' +
      '"bindings":[{"resourceConfig":{"table":"t"},"resourcePath":["t"],"fieldSelection":{"keys":["id"],"values":["v"],"document":"flow_document"},"stateKey":"t","collectionIndex":1}],' +
      `"createdAt":"2026-06-01T12:00:00Z","linkedCollections":[${ordersJson(0)},${ordersJson(1)}],"secrets":{"pw":"hunter2"}},` +
      '"version":"v3","range":{"keyEnd":2147483647,"rClockEnd":4294967295},"state":{},"sealedConfig":{"address":"sealed"}}}',
  },
  {
    name: "newest_materialize_request_flush",
    type: "materialize.Request",
    bin: msg(6, str(1, "[{}]"), msg(2, uint(1, 1), msg(2, uint(1, 1_780_000_000))), msg(3), msg(3, uint(1, 2))),
    json: '{"flush":{"statePatches":[{}],"backfillBegins":[{"binding":1,"timestamp":"2026-05-28T20:26:40+00:00"}],"backfillCompletes":[{},{"binding":2}]}}',
  },
  {
    name: "newest_materialize_response_validated",
    type: "materialize.Response",
    bin: msg(
      2,
      msg(
        1,
        entry(1, "id", msg(2, uint(2, 2), str(3, "the key"))),
        entry(1, "LongName", msg(2, uint(2, 4), str(3, "a value"), str(4, "longname"))),
        str(2, "public"),
        str(2, "t"),
        msg(6, str(1, "id"), msg(2, uint(2, 2), str(3, "the key"))),
        msg(6, str(1, "LongName"), msg(2, uint(2, 4), str(3, "a value"), str(4, "longname"))),
      ),
      msg(1, str(2, "events"), uint(3, 1), msg(6, str(1, "flow_document"), msg(2, uint(2, 1), str(3, "delta")))),
    ),
    json:
      '{"validated":{"bindings":[' +
      '{"constraints":{"id":{"type":"LOCATION_REQUIRED","reason":"the key"},"LongName":{"type":"FIELD_OPTIONAL","reason":"a value","foldedField":"longname"}},' +
      '"resourcePath":["public","t"],' +
      '"projectionConstraints":[{"field":"id","constraint":{"type":"LOCATION_REQUIRED","reason":"the key"}},{"field":"LongName","constraint":{"type":"FIELD_OPTIONAL","reason":"a value","foldedField":"longname"}}]},' +
      '{"resourcePath":["events"],"deltaUpdates":true,"projectionConstraints":[{"field":"flow_document","constraint":{"type":"FIELD_REQUIRED","reason":"delta"}}]}]}}',
  },
];
