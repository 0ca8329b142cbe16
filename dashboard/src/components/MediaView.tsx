import { useEffect, useState } from "react";
import type { OutputFile } from "../api/types";
import { bytes, downloadUrl } from "./common";

/** One file shown the way its type allows: image, player, PDF page, JSON; always with a download link. */
export function MediaView({ file, role }: { file: OutputFile; role: "Input" | "Output" }) {
  const type = file.contentType || "";
  let body;
  if (type.startsWith("image/")) {
    body = <img src={file.url} alt={`${role} ${file.filename}`} data-testid={role === "Output" ? "output-image" : "input-image"} loading="lazy" />;
  } else if (type.startsWith("video/")) {
    body = <video src={file.url} controls preload="metadata" aria-label={`${role} video ${file.filename}`} />;
  } else if (type.startsWith("audio/")) {
    body = <audio src={file.url} controls preload="metadata" aria-label={`${role} audio ${file.filename}`} />;
  } else if (type === "application/pdf") {
    body = <iframe src={`${file.url}#page=1&view=FitH`} title={`PDF ${file.filename}`} className="pdf" />;
  } else if (type.includes("json")) {
    body = <JsonFile url={file.url} />;
  } else {
    body = <p className="muted">{type || "file"}</p>;
  }
  return (
    <figure className="media" data-testid={role === "Output" ? "output-file" : "input-file"}>
      {body}
      <figcaption>
        <span>{file.filename}</span> <span className="muted">{bytes(file.size)} · {type}</span>{" "}
        <a href={downloadUrl(file.url)} download={file.filename}>Download {file.filename}</a>
      </figcaption>
    </figure>
  );
}

function JsonFile({ url }: { url: string }) {
  const [text, setText] = useState("loading...");
  useEffect(() => {
    let live = true;
    fetch(url, { credentials: "same-origin" })
      .then((r) => r.text())
      .then((t) => {
        if (!live) return;
        try {
          setText(JSON.stringify(JSON.parse(t), null, 2));
        } catch {
          setText(t);
        }
      })
      .catch(() => live && setText("(could not load)"));
    return () => {
      live = false;
    };
  }, [url]);
  return <pre className="json" tabIndex={0}>{text.slice(0, 20000)}</pre>;
}

export function Json({ value }: { value: unknown }) {
  return <pre className="json" tabIndex={0}>{JSON.stringify(value, null, 2)}</pre>;
}
