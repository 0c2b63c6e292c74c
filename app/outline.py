"""The outline tree: a `gr.HTML` component with its own keyboard and mouse handling.

Python renders the rows (escaped, in `app.views.outline_html`); the browser side keeps
what is purely visual (which branches are collapsed, where the keyboard focus is) and
reports a chosen node with `trigger('select', {id})`, which reaches Python as
`gr.EventData` with an `id` attribute.

Keys: Up/Down (or k/j) move, Right expands or steps into a branch, Left collapses or
steps out to the parent, Home/End jump, Enter or Space selects, `e` jumps to the editor.
Moving with the arrows also selects, after a short pause, so holding a key stays cheap.
"""

from __future__ import annotations

import gradio as gr

JS_ON_LOAD = r"""
const collapsed = new Set();
let pending = null;
const rows = () => Array.from(element.querySelectorAll('li.node'));
const depth = (row) => Number(row.getAttribute('aria-level'));
const visibleRows = () => rows().filter((row) => !row.hidden);

function layout() {
  const all = rows();
  let hideDeeperThan = Infinity;
  all.forEach((row, i) => {
    const level = depth(row);
    if (level <= hideDeeperThan) hideDeeperThan = Infinity;
    const next = all[i + 1];
    const isParent = next !== undefined && depth(next) > level;
    row.hidden = hideDeeperThan !== Infinity;
    if (isParent) {
      const open = !collapsed.has(row.dataset.id);
      row.setAttribute('aria-expanded', String(open));
      if (!open && !row.hidden) hideDeeperThan = level;
    } else {
      row.removeAttribute('aria-expanded');
    }
  });
}

// Roving focus: only the focused row is in the tab order (rows come without a tabindex).
function focusRow(row) {
  if (!row) return;
  element.querySelectorAll('li.node[tabindex]').forEach((r) => r.removeAttribute('tabindex'));
  row.tabIndex = 0;
  row.focus();
}

function select(row, delay) {
  if (!row) return;
  focusRow(row);
  element.querySelectorAll('li.node[aria-selected]').forEach((r) => {
    r.removeAttribute('aria-selected');
  });
  row.setAttribute('aria-selected', 'true');
  clearTimeout(pending);
  const fire = () => trigger('select', { id: Number(row.dataset.id) });
  if (delay) pending = setTimeout(fire, delay); else fire();
}

function toggle(row, open) {
  if (!row.hasAttribute('aria-expanded')) return false;
  const isOpen = row.getAttribute('aria-expanded') === 'true';
  if (open === isOpen) return false;
  if (isOpen) collapsed.add(row.dataset.id); else collapsed.delete(row.dataset.id);
  layout();
  return true;
}

function firstChild(row, next) {
  return next && depth(next) > depth(row) ? next : null;
}

function parentOf(row) {
  const level = depth(row);
  let prev = row.previousElementSibling;
  while (prev && depth(prev) >= level) prev = prev.previousElementSibling;
  return prev;
}

element.addEventListener('click', (event) => {
  const link = event.target.closest('[data-goto]');
  if (link) {
    select(rows().find((r) => r.dataset.id === link.dataset.goto), 0);
    return;
  }
  const row = event.target.closest('li.node');
  if (!row) return;
  if (event.target.classList.contains('twisty')) { toggle(row); focusRow(row); return; }
  select(row, 0);
});

element.addEventListener('keydown', (event) => {
  const row = event.target.closest('li.node');
  if (!row || event.altKey || event.ctrlKey || event.metaKey) return;
  const shown = visibleRows();
  const at = shown.indexOf(row);
  const moves = {
    ArrowDown: () => shown[at + 1], j: () => shown[at + 1],
    ArrowUp: () => shown[at - 1], k: () => shown[at - 1],
    Home: () => shown[0], End: () => shown[shown.length - 1],
    ArrowRight: () => (toggle(row, true) ? null : firstChild(row, shown[at + 1])),
    ArrowLeft: () => (toggle(row, false) ? null : parentOf(row)),
  };
  if (event.key in moves) {
    event.preventDefault();
    const target = moves[event.key]();
    if (target) select(target, 300);
  } else if (event.key === 'Enter' || event.key === ' ') {
    event.preventDefault();
    select(row, 0);
  } else if (event.key === 'e') {
    const editor = document.querySelector('#node-text textarea');
    if (editor) { event.preventDefault(); editor.focus(); }
  }
});

watch('value', layout);
layout();
"""

CSS = r"""
.outline { list-style: none; margin: 0; padding: 0; font-size: 1rem; line-height: 1.5; }
.node {
  display: flex; align-items: baseline; gap: .4rem; cursor: pointer;
  padding: .3rem .5rem .3rem calc(var(--depth) * 1.25rem + .25rem);
  border-left: 3px solid transparent; border-radius: 4px;
  content-visibility: auto; contain-intrinsic-size: auto 2.1rem;  /* 10,000 rows */
}
.node[hidden] { display: none; }
.node:hover { background: var(--background-fill-secondary); }
.node[aria-selected="true"] {
  background: var(--color-accent-soft); border-left-color: var(--color-accent);
}
.node:focus-visible { outline: 2px solid var(--color-accent); outline-offset: -2px; }
.twisty { flex: 0 0 1rem; text-align: center; color: var(--body-text-color-subdued); }
.node[aria-expanded="true"] > .twisty::before { content: "▾"; }
.node[aria-expanded="false"] > .twisty::before { content: "▸"; }
.text { flex: 1 1 auto; min-width: 0; overflow-wrap: anywhere; }
.node > .text:first-child { margin-left: 1.4rem; }  /* a leaf: where a twisty would be */
.kind-section > .text { font-weight: 650; font-size: 1.08rem; }
.kind-outline > .text { font-weight: 550; }
.kind-paragraph { padding-top: 0; padding-bottom: 0; }
.kind-paragraph > .text { color: var(--body-text-color-subdued); font-size: .8rem; }
.badge {
  flex: 0 0 auto; font-size: .7rem; padding: 0 .45rem; border-radius: 999px;
  border: 1px solid var(--border-color-primary); color: var(--body-text-color-subdued);
  text-transform: lowercase; letter-spacing: .02em;
}
.badge-generated > .badge { border-color: #6c8ebf; color: #3b6aa8; }
.badge-translated > .badge { border-color: #8e6cbf; color: #6a3ba8; }
.badge-edited > .badge { border-color: #bf9a6c; color: #8a6322; }
.badge-stale > .badge { border-color: #c0504d; color: #b03a37; }
.badge-locked > .badge {
  border-color: #555; color: #333; background: var(--background-fill-secondary); font-weight: 600;
}
.check {
  flex: 0 0 auto; font-size: .7rem; padding: 0 .45rem; border-radius: 999px;
  border: 1px dashed currentColor; text-transform: lowercase;
}
.check.misread { color: #b03a37; cursor: help; }
.check.repeats { color: #8a6322; cursor: pointer; text-decoration: underline dotted; }
.empty { color: var(--body-text-color-subdued); padding: 1rem; }
@media (max-width: 640px) {
  .node { padding-left: calc(var(--depth) * .7rem + .25rem); }
}
"""


def outline_tree(value: str = "", **kwargs) -> gr.HTML:
    """An outline tree whose `value` is the escaped HTML from `app.views.outline_html`.
    (A factory, not a `gr.HTML` subclass: Gradio writes a `.pyi` stub next to subclasses.)"""
    return gr.HTML(
        value, html_template="${value}", css_template=CSS, js_on_load=JS_ON_LOAD, **kwargs
    )


LIST_JS = r"""
element.addEventListener('click', (event) => {
  const item = event.target.closest('[data-id]');
  if (item) trigger('select', { id: Number(item.dataset.id) });
});
element.addEventListener('keydown', (event) => {
  const item = event.target.closest('[data-id]');
  if (item && (event.key === 'Enter' || event.key === ' ')) {
    event.preventDefault();
    trigger('select', { id: Number(item.dataset.id) });
  }
});
"""

LIST_CSS = r"""
.choices { list-style: none; margin: 0; padding: 0; }
.choices li { padding: .35rem .6rem; border-radius: 4px; cursor: pointer;
  border-left: 3px solid transparent; overflow-wrap: anywhere; }
.choices li:hover { background: var(--background-fill-secondary); }
.choices li[aria-selected="true"] { background: var(--color-accent-soft);
  border-left-color: var(--color-accent); font-weight: 600; }
.choices .meta { color: var(--body-text-color-subdued); font-size: .8rem; }
.choices .action { float: right; font-size: .8rem; color: var(--color-accent); }
.empty { color: var(--body-text-color-subdued); padding: .5rem; }
"""


def clickable_list(value: str = "", **kwargs) -> gr.HTML:
    """A list of documents (`app.views.library_html`, `deleted_html`) whose items report a
    click or Enter as `select` with the item's `id`. Unlike a `gr.Radio`, it has no server-side
    list of choices to validate against, so a tab left open across a server restart works."""
    return gr.HTML(
        value, html_template="${value}", css_template=LIST_CSS, js_on_load=LIST_JS, **kwargs
    )
