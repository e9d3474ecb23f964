// What every console page may need: confirmation before a deletion, selectors that apply
// themselves, copy buttons, tags placed over images (positions come from data attributes
// because the page's content security policy allows no inline styles), and statuses that
// refresh themselves while work is in progress.
"use strict";

const POLL_MS = 2000;

function statuses(root) {
  return [...root.querySelectorAll(".status")].map((status) => status.textContent).join("|");
}

// Whether the person has typed, chosen or opened something on the page that a reload would lose.
function edited() {
  if (document.querySelector("dialog[open]")) return true;
  return [...document.querySelectorAll("input, select, textarea")].some((field) => {
    if (field.type === "hidden") return false;
    if (field.type === "file") return field.files.length > 0;
    if (field.type === "checkbox" || field.type === "radio") {
      return field.checked !== field.defaultChecked;
    }
    if (field.tagName === "SELECT") {
      const initial = [...field.options].findIndex((option) => option.defaultSelected);
      return field.selectedIndex !== Math.max(initial, 0);
    }
    return field.value !== field.defaultValue;
  });
}

function announceChange() {
  const note = document.createElement("div");
  note.className = "flash flash-message";
  note.setAttribute("role", "status");
  note.id = "statuses-changed";
  const link = document.createElement("a");
  link.href = window.location.href;
  link.textContent = "Refresh";
  note.append("Statuses have changed. ", link, " to see them.");
  document.querySelector("main .breadcrumbs").after(note);
}

// While a status shows work in progress (TRAINING_IN_PROGRESS, STARTING, ...) the page is read
// again every few seconds, as the AWS console does; once a status changed it reloads, or, when
// that would lose what the person entered, says so. The next read is timed from the end of the
// previous one, so a busy server is never sent a second read while one is still waiting.
function pollWhileInProgress() {
  if (!document.body.hasAttribute("data-poll") || !document.querySelector(".status-progress")) {
    return;
  }
  const shown = statuses(document);
  const poll = async () => {
    let now = null;
    try {
      const response = await fetch(window.location.href, {
        headers: { "X-Fakerek-Poll": "1" },
        cache: "no-store",
      });
      if (response.ok) {
        now = statuses(new DOMParser().parseFromString(await response.text(), "text/html"));
      }
    } catch {
      now = shown; // the server is not answering: try again next time
    }
    if (now === shown) {
      setTimeout(poll, POLL_MS);
      return;
    }
    if (edited()) announceChange();
    else window.location.reload();
  };
  setTimeout(poll, POLL_MS);
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });

  document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });

  document.querySelectorAll("button[data-copy]").forEach((button) => {
    button.addEventListener("click", async () => {
      const text = document.getElementById(button.dataset.copy).textContent;
      try {
        await navigator.clipboard.writeText(text);
        button.textContent = "Copied";
      } catch {
        button.textContent = "Select the text and copy it";
      }
      setTimeout(() => (button.textContent = "Copy"), 2000);
    });
  });

  document.querySelectorAll("[data-x][data-y]").forEach((tag) => {
    tag.style.left = `${Number(tag.dataset.x) * 100}%`;
    tag.style.top = `${Number(tag.dataset.y) * 100}%`;
  });

  pollWhileInProgress();
});
