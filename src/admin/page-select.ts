/**
 * One page of a sorted list without sorting the whole list. A list route answers `limit` items
 * (at most 1000) at `offset` out of every session or filter on the node (100,000 and more): a
 * full sort costs n log n comparisons per request. A page near the top (the dashboard's first
 * page) is taken in one pass with a small heap, about n comparisons; a page further down by
 * selecting its two edges (quickselect, random pivots), about 3n on average. Only the page
 * itself is sorted.
 * Pure; reorders the array it is given, which its caller built for the request.
 */
import { assert } from "../errors.ts";

export type Compare<T> = (a: T, b: T) => number;

/**
 * Partition rounds allowed per selection before giving up on quickselect and sorting the rest:
 * random pivots need about 2 log2(n) rounds, so this bound is reached only by very bad luck, and
 * it keeps the worst case at one full sort.
 */
const SELECT_ROUNDS_MAX = 128;
/**
 * Windows ending within this many items (the first page of any size: PAGE_LIMIT_MAX) are taken
 * with a heap of that many in one pass, which beats quickselect when the window is near the top.
 */
const HEAP_SELECT_ITEMS_MAX = 1000;

/**
 * Rearranges `items[left..right]` so that `items[k]` holds the item of rank k within that range,
 * everything before it compares <= and everything after it >=. Returns false when it ran out
 * of rounds (the range is then merely permuted).
 */
function select<T>(items: T[], k: number, left: number, right: number, compare: Compare<T>) {
  let lo = left;
  let hi = right;
  for (let round = 0; round < SELECT_ROUNDS_MAX; round++) {
    if (lo >= hi) return true;
    const pivot = items[lo + Math.floor(Math.random() * (hi - lo + 1))];
    // Three-way partition, so equal items cannot make a round useless:
    // [lo, lt) < pivot, [lt, gt] equal to it, (gt, hi] > pivot.
    let lt = lo;
    let gt = hi;
    let i = lo;
    while (i <= gt) {
      const order = compare(items[i], pivot);
      if (order < 0) swap(items, lt++, i++);
      else if (order > 0) swap(items, i, gt--);
      else i++;
    }
    if (k < lt) hi = lt - 1;
    else if (k > gt) lo = gt + 1;
    else return true;
  }
  return false;
}

function swap<T>(items: T[], i: number, j: number): void {
  const held = items[i];
  items[i] = items[j];
  items[j] = held;
}

/**
 * The `count` smallest items, sorted, in one pass over `items` with a max-heap of `count`: most
 * items cost one comparison with the heap's largest, and `items` is left as it was.
 */
function smallest<T>(items: T[], count: number, compare: Compare<T>): T[] {
  const heap: T[] = [];
  for (let at = 0; at < items.length; at++) {
    const item = items[at];
    if (heap.length < count) {
      heap.push(item);
      siftUp(heap, heap.length - 1, compare);
    } else if (compare(item, heap[0]) < 0) {
      heap[0] = item;
      siftDown(heap, 0, compare);
    }
  }
  assert(heap.length === Math.min(count, items.length), "smallest: heap size");
  return heap.sort(compare);
}

function siftUp<T>(heap: T[], start: number, compare: Compare<T>): void {
  let at = start;
  while (at > 0) {
    const parent = (at - 1) >> 1;
    if (compare(heap[at], heap[parent]) <= 0) return;
    swap(heap, at, parent);
    at = parent;
  }
}

function siftDown<T>(heap: T[], start: number, compare: Compare<T>): void {
  let at = start;
  for (;;) {
    const left = 2 * at + 1;
    let largest = at;
    if (left < heap.length && compare(heap[left], heap[largest]) > 0) largest = left;
    if (left + 1 < heap.length && compare(heap[left + 1], heap[largest]) > 0) largest = left + 1;
    if (largest === at) return;
    swap(heap, at, largest);
    at = largest;
  }
}

/**
 * The items of ranks [offset, offset + limit) of `items` sorted by `compare`, in order: what
 * `items.sort(compare).slice(offset, offset + limit)` returns. Reorders `items`.
 */
export function sortedWindow<T>(
  items: T[],
  compare: Compare<T>,
  offset: number,
  limit: number,
): T[] {
  assert(offset >= 0 && limit >= 1, "sortedWindow: offset >= 0, limit >= 1");
  const end = Math.min(items.length, offset + limit);
  if (offset >= end) return [];
  if (end <= HEAP_SELECT_ITEMS_MAX) return smallest(items, end, compare).slice(offset);
  const last = items.length - 1;
  // First edge: everything from `offset` on ranks at or after it; second edge within that.
  const selected =
    select(items, offset, 0, last, compare) && select(items, end - 1, offset, last, compare);
  if (!selected) return items.sort(compare).slice(offset, end);
  const window = items.slice(offset, end).sort(compare);
  assert(window.length === end - offset, "sortedWindow: window size");
  return window;
}
