import sharp from "sharp";
import { readdirSync } from "node:fs";
sharp.concurrency(1); sharp.cache(false);
const dir = process.argv[2]; const names = readdirSync(dir).filter(n=>n.endsWith(".jpg")).sort();
const c0 = process.cpuUsage(); const t0 = process.hrtime.bigint();
for (const n of names) await sharp(dir+"/"+n).resize(1600,1600,{fit:"inside"})[process.argv[3]==="webp"?"webp":"jpeg"](process.argv[3]==="webp"?{quality:80,effort:4}:{quality:75, optimiseCoding:true}).toFile("/tmp/exp/s-"+n+"."+process.argv[3]);
const c = process.cpuUsage(c0); console.log("sharp per image ms wall", Number(process.hrtime.bigint()-t0)/1e6/names.length, "cpu", (c.user+c.system)/1000/names.length);
