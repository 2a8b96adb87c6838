/* Names and focus order that Dash 4.4's own components leave out (axe-core: aria-hidden-focus, label,
   button-name). The components are React's: only attributes and styles are set on them (the label texts the
   dropdowns point to live in one hidden box outside React's tree), so React's later renders are undisturbed;
   a MutationObserver applies the same fixes to every new render.

   - dcc.Dropdown puts Tab focus on a hidden proxy <input aria-hidden="true" tabindex="0"> (a Safari workaround)
     that hands it to the real button (tabindex -1): the button takes the focus itself, named by its <label>
     and its value, and the proxy leaves the tab order.
   - DataTable's row checkboxes, page buttons (icons only) and page-number box have no name.
   - dcc.Upload's file input has no name: it takes the text of its drop zone. */
(function () {
  "use strict";

  function say(el, ja, en) {
    const holder = el.closest("[lang]");
    return holder && holder.lang === "en" ? en : ja;
  }

  const names = new Map();  // label text -> id of a hidden element holding it, outside React's tree

  function nameId(text) {
    if (!names.has(text)) {
      let box = document.getElementById("a11y-names");
      if (!box) {
        box = document.createElement("div");
        box.id = "a11y-names";
        box.hidden = true;
        document.body.appendChild(box);
      }
      const span = document.createElement("span");
      span.id = "a11y-name-" + (names.size + 1);
      span.textContent = text;
      box.appendChild(span);
      names.set(text, span.id);
    }
    return names.get(text);
  }

  function dropdowns(root) {
    for (const proxy of root.querySelectorAll("input.dash-dropdown-focus-target")) {
      if (proxy.style.display === "none") continue;
      proxy.style.display = "none";
      const button = proxy.nextElementSibling;
      if (!button || button.tagName !== "BUTTON") continue;
      if (!button.disabled) button.tabIndex = 0;
      const label = button.closest("label");
      // the label's own text (its first text node), so that the button reads "状態 未完了"
      const text = label && [...label.childNodes].find((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
      if (text) {
        const own = (button.getAttribute("aria-labelledby") || "").split(/\s+/)
          .filter((id) => id && document.getElementById(id));
        button.setAttribute("aria-labelledby", [nameId(text.textContent.trim()), ...own].join(" "));
      }
    }
  }

  function tables(root) {
    for (const box of root.querySelectorAll(".dash-select-cell input:not([aria-label]), "
                                            + ".dash-select-header input:not([aria-label])")) {
      const row = box.closest("tr");
      const first = row && row.querySelector("td:not(.dash-select-cell)");
      const what = first ? first.textContent.trim() : "";
      box.setAttribute("aria-label", say(box, "この行を選択", "Select this row") + (what ? " " + what : ""));
    }
    const pages = {"first-page": ["最初のページ", "First page"], "previous-page": ["前のページ", "Previous page"],
                   "next-page": ["次のページ", "Next page"], "last-page": ["最後のページ", "Last page"]};
    for (const button of root.querySelectorAll(".previous-next-container button:not([aria-label])")) {
      const words = pages[[...button.classList].find((c) => c in pages)];
      if (words) button.setAttribute("aria-label", say(button, words[0], words[1]));
    }
    for (const input of root.querySelectorAll(".previous-next-container input.current-page:not([aria-label])")) {
      input.setAttribute("aria-label", say(input, "ページ番号", "Page number"));
    }
  }

  function uploads(root) {
    for (const input of root.querySelectorAll("input[type=file]:not([aria-label]):not([id])")) {
      const zone = input.parentElement;
      const text = zone ? zone.textContent.trim() : "";
      input.setAttribute("aria-label", text || say(input, "ファイルを選択", "Choose a file"));
    }
  }

  let queued = false;

  function fix() {
    queued = false;
    dropdowns(document);
    tables(document);
    uploads(document);
  }

  new MutationObserver(() => {
    if (!queued) {
      queued = true;
      queueMicrotask(fix);
    }
  }).observe(document.documentElement, {childList: true, subtree: true});
  fix();
})();
