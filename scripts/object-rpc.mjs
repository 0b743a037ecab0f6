// Lets the Worker call its user objects' methods (JavaScript RPC), which the runtime allows only on a Durable Object
// class that derives from `DurableObject`: worker-build exports the wasm-bindgen class as it is, so this gives the
// exported class that prototype, at the end of the built module. `node scripts/object-rpc.mjs <build>/index.js`.
import { readFileSync, writeFileSync } from 'node:fs';

const CLASS = 'UserState';
const file = process.argv[2];
const module = readFileSync(file, 'utf8');
if (module.includes('RinghookDurableObject')) process.exit(0);
// The bundle's last statement exports its bindings under their names: `export{...,Oe as UserState,...}`.
const exported = new RegExp(`([\\w$]+) as ${CLASS}\\b`).exec(module.slice(module.lastIndexOf('export{')));
if (!exported) throw new Error(`${file}: no export of ${CLASS} found`);
const local = exported[1];
writeFileSync(file, `${module.trimEnd()}
import{DurableObject as RinghookDurableObject}from"cloudflare:workers";
Object.setPrototypeOf(${local}.prototype,RinghookDurableObject.prototype);Object.setPrototypeOf(${local},RinghookDurableObject);
`);
