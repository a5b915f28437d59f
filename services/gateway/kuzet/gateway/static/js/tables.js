// Report tables: the rows a view shows, and the same rows as a CSV file the user downloads.
import { clear, h } from "./dom.js";
import { t } from "./i18n.js";

// RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled. A leading
// =, +, - or @ would be a formula to a spreadsheet: such text gets a leading apostrophe.
function field(value) {
  let text = value === null || value === undefined ? "" : String(value);
  if (typeof value === "string" && /^[=+\-@]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

const shown = (c, row) => (c.format ? c.format(row[c.key]) : row[c.key]);

// The file holds what the table shows, in the same units.
export function csv(columns, rows) {
  const lines = [columns.map((c) => field(c.label))];
  for (const row of rows) lines.push(columns.map((c) => field(shown(c, row))));
  return lines.map((l) => l.join(",")).join("\r\n") + "\r\n";
}

export function download(name, text, type = "text/csv") {
  const url = URL.createObjectURL(new Blob([text], { type: `${type};charset=utf-8` }));
  const a = h("a", { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// A titled table with a "CSV" button that saves exactly the rows shown.
export function reportTable(el, { title, name, columns, rows, empty = t("stats.nothing") }) {
  clear(el);
  const button = h("button", { class: "secondary csv", dataset: { csv: name }, onclick: () => download(`${name}.csv`, csv(columns, rows)) }, "CSV");
  el.append(h("div", { class: "report-head" }, h("h2", {}, title), button));
  if (!rows.length) { el.append(h("p", { class: "note" }, empty)); button.disabled = true; return; }
  el.append(h("table", { class: "grid" },
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", {}, c.label)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, columns.map((c) => h("td", {}, shown(c, r) ?? "")))))));
}
