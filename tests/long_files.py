"""Whole files, written for the tests (never from the corpus): each longer than one unit, so the
service splits it. `PY_MODULE` has a function longer than a unit (3,000 characters) too."""

from __future__ import annotations

PY_MODULE = '''"""Shortest paths on weighted graphs, written to be read.

The module walks through three classic algorithms on the same small graph type:
breadth-first search for unweighted graphs, Dijkstra's algorithm for non-negative
weights, and Bellman-Ford when some edges are negative. Each function explains the
invariant it keeps, so a reader can check the code against the idea.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass, field

INFINITY = math.inf
#: An edge: (source, target, weight).
Edge = tuple[str, str, float]


@dataclass
class Graph:
    """A directed graph stored as adjacency lists.

    Attributes:
        edges: for every node, the (neighbour, weight) pairs leaving it.
    """

    edges: dict[str, list[tuple[str, float]]] = field(default_factory=dict)

    def add_edge(self, source: str, target: str, weight: float = 1.0) -> None:
        """Add the edge source -> target; both nodes are created if they are new."""
        self.edges.setdefault(source, []).append((target, weight))
        self.edges.setdefault(target, [])

    def nodes(self) -> list[str]:
        """Every node, in the order it was first seen."""
        return list(self.edges)

    def neighbours(self, node: str) -> list[tuple[str, float]]:
        """The (neighbour, weight) pairs of the edges leaving `node`."""
        return self.edges.get(node, [])


def breadth_first(graph: Graph, start: str) -> dict[str, int]:
    """Number of edges on the shortest path from `start` to every reachable node.

    The queue holds nodes in order of distance, so the first time we reach a node
    we have found its shortest path: every later path is at least as long.
    """
    distance = {start: 0}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for neighbour, _ in graph.neighbours(node):
            if neighbour not in distance:
                distance[neighbour] = distance[node] + 1
                queue.append(neighbour)
    return distance


def dijkstra(graph: Graph, start: str) -> tuple[dict[str, float], dict[str, str]]:
    """Shortest distances from `start` when no weight is negative, and each node's parent.

    Invariant: when a node leaves the heap, its distance is final. Any other path to it
    would go through a node still in the heap, whose distance is already at least as
    large, and non-negative edges can only make that path longer.

    Returns:
        (distance, parent): follow `parent` back from a node to rebuild its path.
    """
    distance = {node: INFINITY for node in graph.nodes()}
    parent: dict[str, str] = {}
    distance[start] = 0.0
    heap = [(0.0, start)]
    while heap:
        dist, node = heapq.heappop(heap)
        if dist > distance[node]:
            continue  # a stale entry: we already found a shorter way here
        for neighbour, weight in graph.neighbours(node):
            if weight < 0:
                raise ValueError(f"edge {node}->{neighbour} is negative: use bellman_ford")
            candidate = dist + weight
            if candidate < distance[neighbour]:
                distance[neighbour] = candidate
                parent[neighbour] = node
                heapq.heappush(heap, (candidate, neighbour))
    return distance, parent


def bellman_ford(graph: Graph, start: str) -> dict[str, float]:
    """Shortest distances from `start` when some weights are negative.

    This function is long on purpose: it is the one a course spends a lecture on, so
    every step carries its explanation next to the code that does it.

    The idea is relaxation. An edge (u, v, w) is "relaxed" when we check whether going
    through u gives a shorter path to v than the best one we know, and if so we
    remember the shorter one. Dijkstra relaxes each edge once, in a clever order; that
    order is only correct when no edge is negative. Bellman-Ford gives up on the clever
    order and relaxes every edge, again and again.

    Why |V| - 1 rounds are enough: a shortest path never repeats a node (if it did, the
    loop in between would have non-negative total weight, or the path would not be
    shortest), so it has at most |V| - 1 edges. After round k, every node whose shortest
    path has at most k edges has its final distance: round k relaxed the k-th edge of
    that path, and by induction the first k - 1 edges were already right.

    Negative cycles: if a cycle has negative total weight, going around it once more
    always helps, so "shortest path" has no meaning for nodes reachable from it. We
    detect this with one extra round: if any edge can still be relaxed after |V| - 1
    rounds, some distance is still falling, which is only possible with such a cycle.

    Raises:
        ValueError: the graph has a negative cycle reachable from `start`.
    """
    nodes = graph.nodes()
    # Step 1: nothing is known except that the start is at distance zero from itself.
    distance = {node: INFINITY for node in nodes}
    distance[start] = 0.0
    # Collect the edges once, so each round is a simple loop over a list.
    edges: list[Edge] = [
        (source, target, weight)
        for source in nodes
        for target, weight in graph.neighbours(source)
    ]
    # Step 2: |V| - 1 rounds of relaxing every edge. We stop early when a whole round
    # changes nothing: then no later round could change anything either.
    for round_number in range(len(nodes) - 1):
        changed = False
        for source, target, weight in edges:
            if distance[source] == INFINITY:
                continue  # no path to the source yet: nothing to relax through it
            candidate = distance[source] + weight
            if candidate < distance[target]:
                distance[target] = candidate
                changed = True
        if not changed:
            break
    # Step 3: one more round. A distance that still falls means a negative cycle.
    for source, target, weight in edges:
        if distance[source] != INFINITY and distance[source] + weight < distance[target]:
            raise ValueError(
                f"negative cycle through {source}->{target}: shortest paths are undefined"
            )
    # A small check that students often forget: the start may itself lie on a cycle of
    # weight zero, which is fine, and its distance stays zero.
    assert distance[start] <= 0.0
    return distance


def path_to(parent: dict[str, str], start: str, goal: str) -> list[str]:
    """The nodes from `start` to `goal`, read back through `parent` (empty if unreachable)."""
    if goal != start and goal not in parent:
        return []
    path = [goal]
    while path[-1] != start:
        path.append(parent[path[-1]])
    return path[::-1]


def example() -> Graph:
    """The graph of the lecture notes: four towns and the roads between them."""
    graph = Graph()
    for source, target, km in [
        ("A", "B", 4.0),
        ("A", "C", 2.0),
        ("C", "B", 1.0),
        ("B", "D", 5.0),
        ("C", "D", 8.0),
    ]:
        graph.add_edge(source, target, km)
    return graph


if __name__ == "__main__":
    towns = example()
    distances, parents = dijkstra(towns, "A")
    for town in towns.nodes():
        print(town, distances[town], " -> ".join(path_to(parents, "A", town)))
    print(bellman_ford(towns, "A") == distances)
'''

JS_MODULE = """/**
 * A tiny event emitter, a debounced search box built on it, and the two helpers
 * every interface needs beside them: a throttle and a small LRU cache.
 *
 * The emitter keeps, for every event name, the list of functions to call. The
 * search box shows how a user interface uses it: keystrokes become events, and a
 * debounce waits for the user to stop typing before it asks the server.
 */

'use strict';

/**
 * Calls listeners when events are emitted.
 */
class EventEmitter {
  constructor() {
    // event name -> array of listener functions, in the order they were added
    this.listeners = new Map();
  }

  /**
   * Register `listener` for `name`; returns a function that removes it again.
   */
  on(name, listener) {
    if (!this.listeners.has(name)) {
      this.listeners.set(name, []);
    }
    this.listeners.get(name).push(listener);
    return () => this.off(name, listener);
  }

  /**
   * Remove one registration of `listener` for `name` (nothing if it is absent).
   */
  off(name, listener) {
    const list = this.listeners.get(name) || [];
    const index = list.indexOf(listener);
    if (index !== -1) {
      list.splice(index, 1);
    }
  }

  /**
   * Call every listener of `name` with `args`. A copy of the list is used, so a
   * listener that removes itself does not make us skip the next one.
   */
  emit(name, ...args) {
    const list = (this.listeners.get(name) || []).slice();
    for (const listener of list) {
      listener(...args);
    }
    return list.length > 0;
  }
}

/**
 * Wrap `fn` so it runs only after `waitMs` milliseconds without another call.
 * Each call restarts the timer; only the last call's arguments are used.
 */
function debounce(fn, waitMs) {
  let timer = null;
  return function debounced(...args) {
    clearTimeout(timer);
    timer = setTimeout(() => fn.apply(this, args), waitMs);
  };
}

/**
 * Rank `items` by how well they match `query`: a prefix match beats a match
 * anywhere, and shorter items win ties, as users usually want the closest word.
 */
function rankMatches(items, query) {
  const q = query.trim().toLowerCase();
  if (q === '') {
    return [];
  }
  return items
    .map((item) => ({ item, at: item.toLowerCase().indexOf(q) }))
    .filter(({ at }) => at !== -1)
    .sort((a, b) => (a.at === 0) !== (b.at === 0)
      ? (a.at === 0 ? -1 : 1)
      : a.item.length - b.item.length)
    .map(({ item }) => item);
}

/**
 * A search box that emits 'results' with the ranked matches of what was typed.
 * Typing emits 'input' at once; the search itself runs once the user pauses.
 */
function createSearchBox(items, { waitMs = 200 } = {}) {
  const events = new EventEmitter();
  const search = debounce((text) => {
    events.emit('results', rankMatches(items, text));
  }, waitMs);
  events.on('input', search);
  return {
    type(text) {
      events.emit('input', text);
    },
    onResults(listener) {
      return events.on('results', listener);
    },
  };
}

/**
 * Wrap `fn` so it runs at most once every `intervalMs` milliseconds. Unlike a
 * debounce, a throttle keeps firing while calls keep coming: scrolling is the
 * classic case, where the page should update during the scroll, not after it.
 */
function throttle(fn, intervalMs) {
  let last = -Infinity;
  let pending = null;
  return function throttled(...args) {
    const now = Date.now();
    const wait = last + intervalMs - now;
    if (wait <= 0) {
      last = now;
      fn.apply(this, args);
    } else if (pending === null) {
      // Remember one trailing call, so the final position is never lost.
      pending = setTimeout(() => {
        pending = null;
        last = Date.now();
        fn.apply(this, args);
      }, wait);
    }
  };
}

/**
 * A least-recently-used cache of search results. A Map remembers insertion
 * order, so deleting and re-inserting a key on every read moves it to the end,
 * and the first key is always the one used longest ago.
 */
class LruCache {
  constructor(capacity) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError('capacity must be a positive integer');
    }
    this.capacity = capacity;
    this.entries = new Map();
  }

  get(key) {
    if (!this.entries.has(key)) {
      return undefined;
    }
    const value = this.entries.get(key);
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  set(key, value) {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.capacity) {
      // The oldest entry is the first one the iterator yields.
      const oldest = this.entries.keys().next().value;
      this.entries.delete(oldest);
    }
  }
}

module.exports = {
  EventEmitter,
  LruCache,
  createSearchBox,
  debounce,
  rankMatches,
  throttle,
};
"""
