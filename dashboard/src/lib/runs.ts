/** Starting runs: an uploaded file, several files (a batch through upload targets), or generated samples. */
import { ApiError, type ApiClient } from "../api/client";
import type { RunAccepted } from "../api/types";

interface UploadTarget {
  key: string;
  url: string;
  method?: string;
  fields: Record<string, string>;
}

const path = (id: string) => `/v1/workflows/${encodeURIComponent(id)}/runs`;

/** Stores one file through an upload target (the same way on both deployments) and gives its key. */
export async function uploadFile(api: ApiClient, file: Blob, filename: string): Promise<string> {
  const target = await api.post<UploadTarget>("/v1/uploads", { filename, contentType: file.type || null });
  const form = new FormData();
  for (const [name, value] of Object.entries(target.fields ?? {})) form.append(name, value);
  form.append("file", file, filename);
  // the API's own upload route (mediaflow serve) goes through the client; a storage URL (S3 on AWS) directly
  const own = new URL(target.url, window.location.href);
  if (own.pathname.startsWith("/v1/uploads/")) await api.upload(own.pathname, form);
  else {
    const response = await fetch(target.url, { method: "POST", body: form });
    if (!response.ok) throw new ApiError(response.status, { detail: `upload of ${filename} failed (${response.status})` });
  }
  return target.key;
}

export async function startFileRun(api: ApiClient, workflowId: string, files: File[]): Promise<RunAccepted> {
  if (files.length === 1) {
    const form = new FormData();
    form.append("file", files[0], files[0].name);
    return api.upload<RunAccepted>(path(workflowId), form);
  }
  const keys: string[] = [];
  for (const file of files) keys.push(await uploadFile(api, file, file.name));
  return api.post<RunAccepted>(path(workflowId), { objects: keys });
}

export function startSampleRun(api: ApiClient, workflowId: string, sampleType: string): Promise<RunAccepted> {
  return api.post<RunAccepted>(path(workflowId), { sample: true, sampleType });
}

/** A batch of `count` generated samples: `count` on the run request, or -- on an API without it -- images
 * drawn here and stored through upload targets. */
export async function startBatchOfSamples(api: ApiClient, workflowId: string, sampleType: string, count: number): Promise<RunAccepted> {
  try {
    return await api.post<RunAccepted>(path(workflowId), { sample: true, sampleType, count });
  } catch (error) {
    const aboutCount = error instanceof ApiError && error.status === 422 && error.errors.some((e) => (e.field ?? e.path ?? "").includes("count"));
    if (!aboutCount || sampleType !== "image") throw error;
  }
  const keys: string[] = [];
  for (let i = 0; i < count; i++) keys.push(await uploadFile(api, await drawSample(i), `sample-${i + 1}.png`));
  return api.post<RunAccepted>(path(workflowId), { objects: keys });
}

/** A small generated test image (a gradient and a disc, different per index). */
export async function drawSample(index: number, width = 640, height = 426): Promise<Blob> {
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d")!;
  const gradient = ctx.createLinearGradient(0, 0, width, height);
  gradient.addColorStop(0, `hsl(${(index * 36) % 360} 70% 55%)`);
  gradient.addColorStop(1, `hsl(${(index * 36 + 120) % 360} 70% 35%)`);
  ctx.fillStyle = gradient;
  ctx.fillRect(0, 0, width, height);
  ctx.fillStyle = "rgba(255,255,255,0.8)";
  ctx.beginPath();
  ctx.arc(width / 2, height / 2, height / 4, 0, Math.PI * 2);
  ctx.fill();
  return new Promise((resolve, reject) => canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("could not draw"))), "image/png"));
}
