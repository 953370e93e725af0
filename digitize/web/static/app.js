// Counter page enhancements: "/" focuses search, in-place signature checks,
// upload with a progress bar and job polling. The page works without this file.
"use strict";

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

const STATUS_VI = {
  queued: "Đang chờ xử lý…",
  running: "Đang nhận dạng chữ, trích thông tin và ký số…",
  stored: "Đã số hóa và lưu vào kho.",
  duplicate: "Tệp này đã có trong kho (trùng lặp).",
  failed: "Không xử lý được",
};

document.addEventListener("keydown", (event) => {
  const tag = (event.target.tagName || "").toLowerCase();
  if (event.key === "/" && !["input", "textarea", "select"].includes(tag)) {
    const box = document.getElementById("q");
    event.preventDefault();
    if (box) { box.focus(); box.select(); } else { window.location = "/"; }
  }
});

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function showReports(target, body) {
  target.replaceChildren();
  if (!body.ok) {
    target.append(el("p", "alert alert-error", body.error.message));
    return;
  }
  if (!body.signatures.length) {
    target.append(el("p", "alert alert-error", "Tệp không có chữ ký số."));
    return;
  }
  for (const sig of body.signatures) {
    const box = el("div", sig.ok ? "alert alert-ok" : "alert alert-error");
    box.append(el("strong", "", sig.ok ? "Chữ ký hợp lệ" : "Chữ ký không hợp lệ"));
    box.append(el("p", "", sig.summary_vi));
    box.append(el("small", "muted block", `Người ký: ${sig.signer_subject} · ${sig.level}`));
    target.append(box);
  }
}

async function postJson(url, body) {
  const response = await fetch(url, {
    method: "POST", body, credentials: "same-origin",
    headers: { "X-CSRF-Token": csrf(), "Accept": "application/json" },
  });
  if (response.status === 401) { window.location = "/login?reason=auth.expired"; }
  return response.json();
}

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-verify]");
  if (!button) return;
  const target = button.parentElement.querySelector(".verify-result");
  button.disabled = true;
  target.replaceChildren(el("p", "muted", "Đang kiểm tra chữ ký…"));
  try {
    showReports(target, await postJson(button.dataset.verify));
  } catch (err) {
    target.replaceChildren(el("p", "alert alert-error", "Không kết nối được máy chủ."));
  } finally {
    button.disabled = false;
  }
});

const verifyForm = document.getElementById("verify-form");
if (verifyForm) {
  verifyForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const target = verifyForm.querySelector(".verify-result");
    target.replaceChildren(el("p", "muted", "Đang kiểm tra…"));
    showReports(target, await postJson("/api/verify", new FormData(verifyForm)));
  });
}

function jobItem(job) {
  const item = el("li", "card job");
  item.id = `job-${job.id}`;
  item.append(el("strong", "", job.name));
  item.append(el("span", "job-status", STATUS_VI[job.status] || job.status));
  return item;
}

function renderJob(job) {
  const old = document.getElementById(`job-${job.id}`);
  const item = jobItem(job);
  if (job.status === "stored" || job.status === "duplicate") {
    item.classList.add("job-done");
    const link = el("a", "btn btn-small btn-primary", "Xem tài liệu");
    link.href = `/documents/${job.document_id}`;
    item.append(link);
  } else if (job.status === "failed") {
    item.classList.add("job-failed");
    item.append(el("small", "muted block", `${job.error_code}: ${job.message}`));
  }
  if (old) old.replaceWith(item); else document.getElementById("jobs").prepend(item);
}

async function pollJob(id) {
  const response = await fetch(`/api/jobs/${id}`, { credentials: "same-origin" });
  const body = await response.json();
  if (!body.ok) return;
  renderJob(body.job);
  if (body.job.status === "queued" || body.job.status === "running") {
    setTimeout(() => pollJob(id), 1000);
  }
}

const uploadForm = document.getElementById("upload-form");
if (uploadForm) {
  uploadForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const bar = document.getElementById("upload-progress");
    const status = document.getElementById("upload-status");
    const request = new XMLHttpRequest();
    request.open("POST", "/api/uploads");
    request.setRequestHeader("X-CSRF-Token", csrf());
    request.setRequestHeader("Accept", "application/json");
    request.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) bar.value = Math.round((100 * e.loaded) / e.total);
    });
    request.addEventListener("load", () => {
      let body;
      try { body = JSON.parse(request.responseText); } catch { body = null; }
      if (request.status === 401) { window.location = "/login?reason=auth.expired"; return; }
      if (!body || !body.ok) {
        status.textContent = body ? body.error.message : "Tải lên thất bại.";
        status.className = "status alert alert-error";
        return;
      }
      status.textContent = "Đã tải lên; đang xử lý…";
      status.className = "status alert alert-ok";
      renderJob(body.job);
      pollJob(body.job.id);
      uploadForm.querySelector('input[type="file"]').value = "";
    });
    request.addEventListener("error", () => {
      status.textContent = "Không kết nối được máy chủ.";
      status.className = "status alert alert-error";
    });
    bar.hidden = false;
    bar.value = 0;
    status.textContent = "Đang tải lên…";
    status.className = "status";
    request.send(new FormData(uploadForm));
  });
}
