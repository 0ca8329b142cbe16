// The sharp side of bench/folder.py: every JPEG of a folder -> the longest side at 1600 px, as a whole
// process. One file after another ("serial") or all at once with Promise.all ("all"), as people write it.
// Prints JSON: wall seconds and the sharp/libvips versions.
//
//   node bench/peers/sharp_folder.mjs IN_DIR OUT_DIR jpeg|webp serial|all QUALITY EFFORT
import { readdir } from "node:fs/promises";
import path from "node:path";
import sharp from "sharp";

const [inDir, outDir, format, mode, quality, effort] = process.argv.slice(2);
const started = process.hrtime.bigint();
const names = (await readdir(inDir)).filter((name) => name.endsWith(".jpg")).sort();

// Every encoder option spelled out (sharp's defaults for the rest), and reported with the timing.
const settings = format === "webp"
  ? { quality: Number(quality), effort: Number(effort) }
  : { quality: Number(quality), mozjpeg: false, optimiseCoding: true, chromaSubsampling: "4:2:0" };

function convert(name) {
  const target = path.join(outDir, name.replace(/\.jpg$/, format === "webp" ? ".webp" : ".jpg"));
  const image = sharp(path.join(inDir, name)).resize(1600, 1600, { fit: "inside" });
  const encoded = format === "webp" ? image.webp(settings) : image.jpeg(settings);
  return encoded.toFile(target);
}

if (mode === "all") {
  await Promise.all(names.map(convert));
} else {
  for (const name of names) await convert(name);
}
const wall = Number(process.hrtime.bigint() - started) / 1e9;
process.stdout.write(JSON.stringify({ wall, files: names.length, sharp: sharp.versions.sharp,
  libvips: sharp.versions.vips, concurrency: sharp.concurrency(), settings }) + "\n");
