// What every console page may need: confirmation before a deletion, selectors that apply
// themselves, copy buttons, and tags placed over images (positions come from data attributes
// because the page's content security policy allows no inline styles).
"use strict";

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
});
