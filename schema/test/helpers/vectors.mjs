// Vectors made by the Rust crate (`cargo run --example parity_vectors`). CI passes fresh ones in
// WK_RUST_VECTORS; without it the tests use the copy checked in at test/vectors/from-rust.json.
import { readFileSync } from "node:fs";

export const rustVectorsPath = process.env.WK_RUST_VECTORS ?? new URL("../vectors/from-rust.json", import.meta.url).pathname;
export const rustVectors = JSON.parse(readFileSync(rustVectorsPath, "utf8"));
export const fromBase64 = (text) => Uint8Array.from(Buffer.from(text, "base64"));
export const fromHex = (text) => Uint8Array.from(Buffer.from(text, "hex"));
