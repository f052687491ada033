/**
 * The building blocks of the report's sections: tables, figures with their numbers, notes. Every
 * text goes through escapeHtml here, so section code cannot forget it.
 */
import { escapeHtml } from './escape.js';
import { fmt } from './format.js';

/** A table cell: text; a metric (three decimals, n/a when null or NaN); or a whole count. */
export type Cell = string | number | null | { count: number };

export function table(head: string[], rows: Cell[][], caption?: string): string {
  const th = head.map((h) => `<th scope="col">${escapeHtml(h)}</th>`).join('');
  const body = rows.map((row) => `<tr>${row.map(cell).join('')}</tr>`).join('');
  return `<table>${caption ? `<caption>${escapeHtml(caption)}</caption>` : ''}<thead><tr>${th}</tr></thead><tbody>${body}</tbody></table>`;
}

function cell(c: Cell): string {
  if (typeof c === 'string') return `<td>${escapeHtml(c)}</td>`;
  if (c !== null && typeof c === 'object') return `<td class="num">${Number.isFinite(c.count) ? c.count.toLocaleString('en-US') : 'n/a'}</td>`;
  return `<td class="num">${fmt(c)}</td>`;
}

/**
 * A figure with its caption and the numbers it draws. The table sits in a <details> so the page
 * stays readable, yet screen readers and people who copy numbers get every value.
 */
export function figure(id: string, svg: string, caption: string, numbers: string, numbersOpen = false): string {
  return `<figure id="${escapeHtml(id)}">${svg}<figcaption>${escapeHtml(caption)}</figcaption><details${numbersOpen ? ' open' : ''}><summary>Numbers in this figure</summary>${numbers}</details></figure>`;
}

export function section(id: string, title: string, body: string): string {
  return `<section id="${escapeHtml(id)}"><h2>${escapeHtml(title)}</h2>\n${body}\n</section>`;
}

export function note(text: string): string {
  return `<p class="note">${escapeHtml(text)}</p>`;
}

/** Why a section has nothing to show, set apart so a reader does not take it for a result. */
export function missing(text: string): string {
  return `<p class="missing">${escapeHtml(text)}</p>`;
}

/** The command that reproduces a part of the study, where the study recorded one. */
export function reproduce(command: string | undefined): string {
  return command ? `<p class="note">Reproduce: <code>${escapeHtml(command)}</code></p>` : '';
}
