/* The story body's rich-text editor: progressive enhancement of the body textarea.

Without JavaScript (or without Trix) the form keeps its plain HTML textarea. With it, a Trix
editor replaces it on screen and writes its HTML into that same (hidden) textarea on every
change, so the form posts the same "body_html" field and the server sanitises it exactly as
before. The textarea changes only when someone edits in the editor: a story saved untouched
keeps its HTML as it was. A button switches between the editor and the HTML.

Kept to what the server's sanitiser keeps and the feeds carry: bold, italic, strike, links,
a heading, quotes, lists. No attachments: files are neither uploaded nor embedded here.

No inline script or style and no eval: this file and Trix are served by the service, so the page
works under a Content-Security-Policy of script-src 'self'; style-src 'self'. */
(function () {
  "use strict";
  var Trix = window.Trix;
  if (!Trix || !window.customElements || !window.HTMLTemplateElement) return;

  // Elements the editor shows and writes back as they were. A body with anything else (a table,
  // an image, an h3, a lang or dir attribute) would lose it on its way through the editor, so it
  // opens as HTML instead, with a note.
  var KEPT_TAGS = "P DIV BR STRONG B EM I DEL S STRIKE A H1 H2 BLOCKQUOTE UL OL LI PRE SPAN";
  // (rel is dropped by the editor but added to every link again by the server's sanitiser.)
  var KEPT_ATTRIBUTES = { A: ["href", "rel"] };

  // The story page's title is its h1; the heading button makes the section headings below it.
  Trix.config.blockAttributes.heading2 = {
    tagName: "h2", terminal: true, breakOnReturn: true, group: false
  };
  Trix.config.toolbar.getDefaultHTML = toolbarHTML;

  function button(attribute, action, icon, title, key) {
    return '<button type="button" class="trix-button trix-button--icon trix-button--icon-' + icon +
      '"' + (attribute ? ' data-trix-attribute="' + attribute + '"' : "") +
      (action ? ' data-trix-action="' + action + '"' : "") +
      (key ? ' data-trix-key="' + key + '"' : "") +
      ' title="' + title + '" tabindex="-1">' + title + "</button>";
  }

  function toolbarHTML() {
    var lang = Trix.config.lang;
    return '<div class="trix-button-row">' +
      '<span class="trix-button-group trix-button-group--text-tools" data-trix-button-group="text-tools">' +
      button("bold", null, "bold", lang.bold, "b") +
      button("italic", null, "italic", lang.italic, "i") +
      button("strike", null, "strike", lang.strike) +
      button("href", "link", "link", lang.link, "k") +
      "</span>" +
      '<span class="trix-button-group trix-button-group--block-tools" data-trix-button-group="block-tools">' +
      button("heading2", null, "heading-1", "Heading") +
      button("quote", null, "quote", lang.quote) +
      button("bullet", null, "bullet-list", lang.bullets) +
      button("number", null, "number-list", lang.numbers) +
      button(null, "decreaseNestingLevel", "decrease-nesting-level", lang.outdent) +
      button(null, "increaseNestingLevel", "increase-nesting-level", lang.indent) +
      "</span>" +
      '<span class="trix-button-group-spacer"></span>' +
      '<span class="trix-button-group trix-button-group--history-tools" data-trix-button-group="history-tools">' +
      button(null, "undo", "undo", lang.undo, "z") +
      button(null, "redo", "redo", lang.redo, "shift+z") +
      "</span></div>" +
      '<div class="trix-dialogs" data-trix-dialogs>' +
      '<div class="trix-dialog trix-dialog--link" data-trix-dialog="href" data-trix-dialog-attribute="href">' +
      '<div class="trix-dialog__link-fields">' +
      '<input type="url" name="href" class="trix-input trix-input--dialog" placeholder="' +
      lang.urlPlaceholder + '" aria-label="' + lang.url + '" data-trix-validate-href required data-trix-input>' +
      '<div class="trix-button-group">' +
      '<input type="button" class="trix-button trix-button--dialog" value="' + lang.link + '" data-trix-method="setAttribute">' +
      '<input type="button" class="trix-button trix-button--dialog" value="' + lang.unlink + '" data-trix-method="removeAttribute">' +
      "</div></div></div></div>";
  }

  // What in this HTML the editor would drop: element names and attributes, e.g. ["<table>"].
  function unkept(html) {
    var template = document.createElement("template");
    template.innerHTML = html; // inert: nothing in a template runs or loads
    var found = [];
    template.content.querySelectorAll("*").forEach(function (element) {
      var name = element.tagName;
      var what = KEPT_TAGS.split(" ").indexOf(name) < 0 ? "<" + name.toLowerCase() + ">" : null;
      Array.prototype.forEach.call(element.attributes, function (attribute) {
        if ((KEPT_ATTRIBUTES[name] || []).indexOf(attribute.name) < 0 && !what) {
          what = attribute.name + '="…"';
        }
      });
      if (what && found.indexOf(what) < 0) found.push(what);
    });
    return found;
  }

  function enhance(textarea) {
    if (textarea.matches(":disabled")) return; // a reader's view: the HTML, read-only
    var field = textarea.closest(".field");
    var label = field.querySelector('label[for="' + textarea.id + '"]');
    var labelText = label.textContent;
    var toolbar = document.createElement("trix-toolbar");
    toolbar.id = textarea.id + "-toolbar";
    var editor = document.createElement("trix-editor");
    editor.id = textarea.id + "-editor";
    editor.className = "trix-content";
    editor.setAttribute("toolbar", toolbar.id);
    // Trix serialises into an input of its own, unnamed so the form never posts it; the textarea
    // (which the form posts) is written from it only for edits made in the editor.
    var serialised = document.createElement("input");
    serialised.type = "hidden";
    serialised.id = textarea.id + "-trix";
    editor.setAttribute("input", serialised.id);
    label.id = label.id || textarea.id + "-label";
    editor.setAttribute("aria-labelledby", label.id);
    if (textarea.hasAttribute("aria-describedby")) {
      editor.setAttribute("aria-describedby", textarea.getAttribute("aria-describedby"));
    }
    var keys = document.createElement("p");
    keys.className = "hint editor-keys";
    keys.textContent = "Keys: Ctrl+B bold, Ctrl+I italic, Ctrl+K link, Ctrl+Z undo.";
    var note = document.createElement("p");
    note.className = "hint editor-note";
    note.id = textarea.id + "-editor-note";
    note.setAttribute("role", "status");
    var toggle = document.createElement("button");
    toggle.type = "button";
    toggle.className = "link-button editor-toggle";
    toggle.setAttribute("aria-controls", textarea.id + " " + editor.id);
    textarea.before(toolbar, serialised, editor);
    field.insertBefore(toggle, label.nextSibling);
    textarea.after(keys, note);

    // Files dropped or pasted are refused: the body holds no uploads (the story's image fields do).
    editor.addEventListener("trix-file-accept", function (event) { event.preventDefault(); });
    editor.addEventListener("trix-attachment-add", function (event) { event.attachment.remove(); });

    // The document as loaded from the textarea: until the editor's differs from it (Trix also
    // announces a change after loading), the textarea keeps its HTML as it was.
    var loaded = null, loadedHTML = "";
    function load() {
      loadedHTML = textarea.value;
      editor.editor.loadHTML(loadedHTML);
      loaded = editor.editor.getDocument();
    }
    editor.addEventListener("trix-initialize", load);
    editor.addEventListener("trix-change", function () {
      if (editor.hidden || !loaded) return;
      textarea.value = editor.editor.getDocument().isEqualTo(loaded) ? loadedHTML : serialised.value;
    });

    function show(rich) {
      toolbar.hidden = editor.hidden = keys.hidden = !rich;
      textarea.hidden = rich;
      label.htmlFor = rich ? editor.id : textarea.id;
      label.textContent = rich ? labelText.replace(/\s*\(HTML\)\s*$/, "") : labelText;
      toggle.textContent = rich ? "Edit as HTML" : "Use the rich-text editor";
    }

    function switchTo(rich) {
      if (rich) {
        var lost = unkept(textarea.value);
        if (lost.length && !note.dataset.warned) {
          // Asked once: a second press goes ahead.
          note.dataset.warned = "1";
          note.textContent = "The rich-text editor would drop " + lost.join(", ") +
            " from this body. Press the button again to use it anyway.";
          return;
        }
        load();
      }
      note.textContent = "";
      delete note.dataset.warned;
      show(rich);
      (rich ? editor : textarea).focus();
    }

    toggle.addEventListener("click", function () { switchTo(textarea.hidden === false); });

    var lost = unkept(textarea.value);
    if (lost.length) {
      show(false);
      note.textContent = "This body has " + lost.join(", ") +
        ", which the rich-text editor would drop, so it opens as HTML.";
    } else {
      show(true);
    }
  }

  function start() {
    document.querySelectorAll(".rich-text textarea").forEach(enhance);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
