// Labeling on the dataset page: labels added, image-level labels assigned to the selected
// images, bounding boxes drawn, moved and deleted with the mouse. Nothing is stored until
// "Save changes", which sends the changed images to the console; it saves them through
// UpdateDatasetEntries, so the API sees exactly what the page did.
"use strict";

(function () {
  const source = document.getElementById("dataset-data");
  if (!source) return;
  const data = JSON.parse(source.textContent);
  const SVG = "http://www.w3.org/2000/svg";
  const MIN_SIDE = 0.01; // smaller drags are clicks, not boxes

  const copy = (value) => JSON.parse(JSON.stringify(value));
  const original = copy(data.entries);
  let entries = copy(data.entries);
  const labels = [...data.labels];
  const changed = new Set();

  const cards = [...document.querySelectorAll("#gallery .card")];
  const assignSelect = document.getElementById("assign-label");
  const boxSelect = document.getElementById("box-label");
  const saveButton = document.getElementById("save");
  const discardButton = document.getElementById("discard");
  const changes = document.getElementById("changes");

  // -- labels ------------------------------------------------------------------------------------

  function fillSelect(select, chosen) {
    select.replaceChildren(...labels.map((name) => new Option(name, name)));
    if (chosen && labels.includes(chosen)) select.value = chosen;
  }

  function addLabel(name) {
    if (labels.includes(name)) return;
    labels.push(name);
    labels.sort();
    const list = document.getElementById("label-list");
    document.getElementById("no-labels")?.remove();
    const item = document.createElement("li");
    const chip = document.createElement("span");
    chip.className = "chip";
    chip.textContent = name;
    const note = document.createElement("span");
    note.className = "muted";
    note.textContent = " new: not saved until assigned";
    item.append(chip, note);
    list.append(item);
    fillSelect(assignSelect, name);
    fillSelect(boxSelect, name);
  }

  document.getElementById("add-label").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = document.getElementById("new-label");
    const name = input.value.trim();
    if (name) addLabel(name);
    input.value = "";
  });

  // -- state and rendering -----------------------------------------------------------------------

  function markChanged(index) {
    changed.add(index);
    const count = changed.size;
    changes.textContent = `${count} image${count === 1 ? "" : "s"} with unsaved changes`;
    saveButton.disabled = discardButton.disabled = false;
    render(index);
  }

  function drawBoxes(svg, boxes, selected) {
    svg.replaceChildren(
      ...boxes.map((box, i) => {
        const rect = document.createElementNS(SVG, "rect");
        rect.setAttribute("x", box.left);
        rect.setAttribute("y", box.top);
        rect.setAttribute("width", box.width);
        rect.setAttribute("height", box.height);
        rect.setAttribute("class", i === selected ? "box selected" : "box");
        rect.dataset.index = i;
        const title = document.createElementNS(SVG, "title");
        title.textContent = box.label;
        rect.append(title);
        return rect;
      })
    );
  }

  function render(index) {
    const card = cards[index];
    const entry = entries[index];
    card.classList.toggle("changed", changed.has(index));
    drawBoxes(card.querySelector("svg.boxes"), entry.boxes, -1);
    const chips = card.querySelector("ul.chips");
    const items = [
      ...entry.labels.map((name) => [name, "chip"]),
      ...entry.boxes.map((box) => [`${box.label} (box)`, "chip chip-box"]),
    ].map(([text, className]) => {
      const li = document.createElement("li");
      li.className = className;
      li.textContent = text;
      return li;
    });
    if (!items.length) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = "Unlabeled";
      items.push(li);
    }
    chips.replaceChildren(...items);
  }

  function selected() {
    return cards
      .map((card, index) => (card.querySelector(".pick input").checked ? index : -1))
      .filter((index) => index >= 0);
  }

  function setPicked(value) {
    cards.forEach((card) => {
      card.querySelector(".pick input").checked = value;
      card.classList.toggle("picked", value);
    });
  }

  cards.forEach((card, index) => {
    const box = card.querySelector(".pick input");
    box.addEventListener("change", () => card.classList.toggle("picked", box.checked));
    card.querySelector("button.draw").addEventListener("click", () => openEditor(index));
  });
  document.getElementById("select-all").addEventListener("click", () => setPicked(true));
  document.getElementById("select-none").addEventListener("click", () => setPicked(false));

  function applyLabel(assign) {
    const name = assignSelect.value;
    const chosen = selected();
    if (!name) return alertText("Add or choose a label first.");
    if (!chosen.length) return alertText("Select one or more images first.");
    for (const index of chosen) {
      const entry = entries[index];
      const has = entry.labels.includes(name);
      if (assign && !has) entry.labels = [...entry.labels, name].sort();
      else if (!assign && has) entry.labels = entry.labels.filter((l) => l !== name);
      else continue;
      markChanged(index);
    }
  }

  function alertText(text) {
    changes.textContent = text;
  }

  document.getElementById("assign").addEventListener("click", () => applyLabel(true));
  document.getElementById("unassign").addEventListener("click", () => applyLabel(false));

  discardButton.addEventListener("click", () => {
    entries = copy(original);
    const indices = [...changed];
    changed.clear();
    indices.forEach(render);
    changes.textContent = "No unsaved changes";
    saveButton.disabled = discardButton.disabled = true;
  });

  saveButton.addEventListener("click", async () => {
    saveButton.disabled = true;
    changes.textContent = "Saving…";
    const payload = { dataset: data.dataset, entries: [...changed].map((i) => entries[i]) };
    try {
      const response = await fetch(data.save, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(payload),
      });
      const answer = await response.json();
      if (!response.ok) throw new Error(answer.error || response.statusText);
      changed.clear();
      window.location.reload();
    } catch (error) {
      changes.textContent = `Not saved: ${error.message}`;
      saveButton.disabled = false;
    }
  });

  window.addEventListener("beforeunload", (event) => {
    if (changed.size) event.preventDefault();
  });

  // -- the box editor ----------------------------------------------------------------------------

  const dialog = document.getElementById("editor");
  const image = document.getElementById("editor-image");
  const svg = document.getElementById("editor-svg");
  const tags = document.getElementById("editor-tags");
  const deleteButton = document.getElementById("delete-box");
  let current = -1;
  let chosenBox = -1;
  let clicked = false; // the chosen box was clicked (relabelled by the label select), not drawn
  let gesture = null; // {kind: "draw"|"move", start: {x, y}, box, origin}

  // Small images are shown larger, large ones smaller, so that boxes are easy to draw.
  image.addEventListener("load", () => {
    const scale = Math.min(
      Math.min(960, dialog.clientWidth - 48) / image.naturalWidth,
      (window.innerHeight * 0.66) / image.naturalHeight
    );
    image.style.width = `${Math.round(image.naturalWidth * scale)}px`;
  });

  function openEditor(index) {
    current = index;
    chosenBox = -1;
    const entry = entries[index];
    image.src = entry.large;
    image.alt = entry.key;
    document.getElementById("editor-key").textContent = entry.sourceRef;
    fillSelect(boxSelect, boxSelect.value || assignSelect.value);
    renderEditor();
    if (!dialog.open) dialog.showModal();
  }

  function renderEditor() {
    const boxes = entries[current].boxes;
    drawBoxes(svg, boxes, chosenBox);
    tags.replaceChildren(
      ...boxes.map((box, i) => {
        const tag = document.createElement("span");
        tag.className = i === chosenBox ? "tag selected" : "tag";
        tag.textContent = box.label;
        tag.style.left = `${box.left * 100}%`;
        tag.style.top = `${box.top * 100}%`;
        return tag;
      })
    );
    deleteButton.disabled = chosenBox < 0;
  }

  function point(event) {
    const frame = svg.getBoundingClientRect();
    const clamp = (v) => Math.min(1, Math.max(0, v));
    return {
      x: clamp((event.clientX - frame.left) / frame.width),
      y: clamp((event.clientY - frame.top) / frame.height),
    };
  }

  svg.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    svg.setPointerCapture(event.pointerId);
    const start = point(event);
    const hit = event.target.closest ? event.target.closest("rect") : null;
    if (hit && hit.dataset.index !== undefined) {
      chosenBox = Number(hit.dataset.index);
      clicked = true;
      gesture = { kind: "move", start, origin: { ...entries[current].boxes[chosenBox] } };
    } else {
      const label = boxSelect.value;
      if (!label) {
        document.getElementById("editor-key").textContent = "Add a label before drawing boxes.";
        return;
      }
      const box = { label, left: start.x, top: start.y, width: 0, height: 0 };
      entries[current].boxes = [...entries[current].boxes, box];
      chosenBox = entries[current].boxes.length - 1;
      clicked = false; // choosing the label of the next box must not relabel this one
      gesture = { kind: "draw", start };
    }
    renderEditor();
  });

  svg.addEventListener("pointermove", (event) => {
    if (!gesture) return;
    const at = point(event);
    const box = entries[current].boxes[chosenBox];
    if (gesture.kind === "draw") {
      box.left = Math.min(at.x, gesture.start.x);
      box.top = Math.min(at.y, gesture.start.y);
      box.width = Math.abs(at.x - gesture.start.x);
      box.height = Math.abs(at.y - gesture.start.y);
    } else {
      const o = gesture.origin;
      box.left = Math.min(1 - o.width, Math.max(0, o.left + at.x - gesture.start.x));
      box.top = Math.min(1 - o.height, Math.max(0, o.top + at.y - gesture.start.y));
    }
    renderEditor();
  });

  function endGesture() {
    if (!gesture) return;
    const boxes = entries[current].boxes;
    const box = boxes[chosenBox];
    if (gesture.kind === "draw" && (box.width < MIN_SIDE || box.height < MIN_SIDE)) {
      entries[current].boxes = boxes.filter((_, i) => i !== chosenBox);
      chosenBox = -1;
    } else {
      const o = gesture.origin;
      const moved = gesture.kind === "draw" || o.left !== box.left || o.top !== box.top;
      if (moved) markChanged(current);
    }
    gesture = null;
    renderEditor();
  }

  svg.addEventListener("pointerup", endGesture);
  svg.addEventListener("pointercancel", endGesture);

  function deleteBox() {
    if (chosenBox < 0) return;
    entries[current].boxes = entries[current].boxes.filter((_, i) => i !== chosenBox);
    chosenBox = -1;
    markChanged(current);
    renderEditor();
  }

  deleteButton.addEventListener("click", deleteBox);
  dialog.addEventListener("keydown", (event) => {
    if ((event.key === "Delete" || event.key === "Backspace") && event.target.tagName !== "INPUT") {
      event.preventDefault();
      deleteBox();
    }
  });
  boxSelect.addEventListener("change", () => {
    if (chosenBox < 0 || !clicked) return;
    entries[current].boxes[chosenBox].label = boxSelect.value;
    markChanged(current);
    renderEditor();
  });
  document.getElementById("editor-done").addEventListener("click", () => dialog.close());
  document.getElementById("previous-image").addEventListener("click", () => {
    if (current > 0) openEditor(current - 1);
  });
  document.getElementById("next-image").addEventListener("click", () => {
    if (current < cards.length - 1) openEditor(current + 1);
  });
})();
