/**
 * sortedWindow (src/admin/page-select.ts) against the obvious answer, sort().slice(): random
 * lists with and without repeated values, windows near the top (the heap) and further down
 * (quickselect), first, middle and last pages, past the end, the whole list, and the caller's
 * items all kept.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { sortedWindow } from "../../../src/admin/page-select.ts";

const byNumber = (a: number, b: number) => a - b;
const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** A small seeded generator (mulberry32), so a failure repeats. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

test("every window equals sort().slice() on random lists, repeats included", () => {
  const next = random(7);
  for (let round = 0; round < 300; round++) {
    const length = Math.floor(next() * 200);
    const spread = round % 3 === 0 ? 5 : 1_000_000; // few distinct values, or almost all distinct
    const items = Array.from({ length }, () => Math.floor(next() * spread));
    const sorted = [...items].sort(byNumber);
    const offset = Math.floor(next() * (length + 3));
    const limit = 1 + Math.floor(next() * 50);
    const copy = [...items];
    const window = sortedWindow(copy, byNumber, offset, limit);
    assert.deepEqual(window, sorted.slice(offset, offset + limit), `seed 7, round ${round}`);
    assert.deepEqual([...copy].sort(byNumber), sorted, "items are only reordered");
  }
});

test("windows past the first 1000 items (quickselect) on lists with and without repeats", () => {
  const next = random(11);
  for (let round = 0; round < 40; round++) {
    const length = 1000 + Math.floor(next() * 3000);
    const spread = round % 2 === 0 ? 7 : 1_000_000;
    const items = Array.from({ length }, () => Math.floor(next() * spread));
    const sorted = [...items].sort(byNumber);
    const offset = 900 + Math.floor(next() * (length - 900));
    const limit = 1 + Math.floor(next() * 1000);
    const window = sortedWindow([...items], byNumber, offset, limit);
    assert.deepEqual(window, sorted.slice(offset, offset + limit), `seed 11, round ${round}`);
  }
});

test("first page, middle page, last page and the whole list of client ids", () => {
  const ids = Array.from({ length: 10_000 }, (_, i) => `client-${(i * 7919) % 10_000}`);
  const sorted = [...ids].sort(byText);
  for (const [offset, limit] of [
    [0, 100],
    [5_000, 100],
    [9_950, 100],
    [0, 10_000],
    [10_000, 10],
  ]) {
    assert.deepEqual(
      sortedWindow([...ids], byText, offset, limit),
      sorted.slice(offset, offset + limit),
      `offset ${offset}, limit ${limit}`,
    );
  }
});

test("an empty list and a window past the end are empty", () => {
  assert.deepEqual(sortedWindow([], byNumber, 0, 10), []);
  assert.deepEqual(sortedWindow([3, 1, 2], byNumber, 3, 10), []);
  assert.deepEqual(sortedWindow([3, 1, 2], byNumber, 2, 10), [3]);
});
