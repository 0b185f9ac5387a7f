/**
 * The dependency direction of the tree, checked (README "Layout"): every relative import of a
 * production file must point to its own layer or one below it, and no import cycle may exist
 * between files. Tests and test support (`*.test.ts`, `*.contract.ts`, `testing/` folders,
 * test/, bench/) may import any layer, but production code may not import them.
 *
 * Run by the unit suite (layering.test.ts); by hand: `node dist/test/tools/layering.js`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import ts from "typescript";

/** A layer: a name, and the paths (folders or files, relative to the root) it holds. */
export interface Layer {
  name: string;
  paths: readonly string[];
}

/**
 * Bottom first: a layer may import itself and the layers above it in this list. A file belongs
 * to the layer of its longest matching path. A new folder under src/ must be added here (the
 * check fails and says so) so that its place is chosen, not assumed.
 */
export const LAYERS: readonly Layer[] = [
  { name: "foundation", paths: ["src/foundation"] },
  { name: "host", paths: ["src/host"] },
  { name: "net", paths: ["src/net"] },
  { name: "block", paths: ["src/block"] },
  { name: "aoe", paths: ["src/aoe"] },
  { name: "storage", paths: ["src/storage"] },
  { name: "domain", paths: ["src/domain"] },
  { name: "hypervisor", paths: ["src/hypervisor"] },
  {
    name: "cluster",
    paths: [
      "src/cluster/model.ts",
      "src/cluster/agent-protocol.ts",
      "src/cluster/store",
      "src/cluster/controller",
      "src/p2v",
    ],
  },
  { name: "api", paths: ["src/api", "src/web"] },
  { name: "client", paths: ["src/cli/client"] },
  { name: "agent", paths: ["src/cluster/agent"] },
  { name: "daemons", paths: ["src/daemon"] },
  { name: "cli", paths: ["src/cli"] },
];

/** Folders scanned for TypeScript files, relative to the root. */
export const SCANNED = ["src", "test", "bench", "web/src"] as const;

/**
 * The browser bundle (web/src) stands alone: it talks to the controller over HTTP only and
 * imports nothing outside its folder but the API's reply schemas (pure zod), which it checks
 * every reply against as the CLI does.
 */
export const STANDALONE = ["web/src"] as const;
/** What a standalone folder may import besides its own files. */
export const STANDALONE_MAY_IMPORT = ["src/api/replies.ts"] as const;

export interface Import {
  specifier: string;
  typeOnly: boolean;
}

/** Each file (relative path, `/`-separated) and the files it imports (resolved, relative). */
export type ImportGraph = Map<string, Import[]>;

/** The import and re-export specifiers of a TypeScript source, dynamic imports included. */
export function readImports(fileName: string, text: string): Import[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false);
  const found: Import[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const typeOnly =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined &&
            clause.namedBindings !== undefined &&
            ts.isNamedImports(clause.namedBindings) &&
            clause.namedBindings.elements.length > 0 &&
            clause.namedBindings.elements.every((element) => element.isTypeOnly)));
      found.push({ specifier: node.moduleSpecifier.text, typeOnly });
    } else if (
      ts.isExportDeclaration(node) &&
      node.moduleSpecifier !== undefined &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      found.push({ specifier: node.moduleSpecifier.text, typeOnly: node.isTypeOnly });
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments.length === 1 &&
      node.arguments[0] !== undefined &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      found.push({ specifier: node.arguments[0].text, typeOnly: false });
    } else if (
      ts.isImportTypeNode(node) &&
      ts.isLiteralTypeNode(node.argument) &&
      ts.isStringLiteral(node.argument.literal)
    ) {
      found.push({ specifier: node.argument.literal.text, typeOnly: true });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/**
 * The file a relative specifier names (`./x.js` is `./x.ts` in the sources; the web bundle
 * leaves extensions out), or undefined for a package or a file that does not exist.
 */
export function resolveImport(
  from: string,
  specifier: string,
  exists: (file: string) => boolean,
): string | undefined {
  if (!specifier.startsWith(".")) return undefined;
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier));
  const stem = base.replace(/\.(js|jsx|mjs)$/, "");
  const candidates = [`${stem}.ts`, `${stem}.tsx`, `${stem}/index.ts`, base];
  return candidates.find(exists);
}

/** Tests and what only tests use: exempt from the layers, and never imported by production. */
export function isTestSupport(file: string): boolean {
  return (
    /\.test\.tsx?$/.test(file) ||
    /\.contract\.ts$/.test(file) ||
    file.split("/").includes("testing") ||
    file.startsWith("test/") ||
    file.startsWith("bench/")
  );
}

function within(file: string, prefix: string): boolean {
  return file === prefix || file.startsWith(`${prefix}/`);
}

/** The index in `layers` of the file's layer, or undefined when no path holds it. */
export function layerIndex(file: string, layers: readonly Layer[]): number | undefined {
  let best: { index: number; length: number } | undefined;
  layers.forEach((layer, index) => {
    for (const prefix of layer.paths) {
      if (within(file, prefix) && (best === undefined || prefix.length > best.length)) {
        best = { index, length: prefix.length };
      }
    }
  });
  return best?.index;
}

/** Every import against the layering, one sentence each that says what to do. */
export function layerViolations(
  graph: ImportGraph,
  layers: readonly Layer[] = LAYERS,
  standalone: readonly string[] = STANDALONE,
  standaloneMayImport: readonly string[] = STANDALONE_MAY_IMPORT,
): string[] {
  const problems: string[] = [];
  for (const [file, imports] of graph) {
    const alone = standalone.find((folder) => within(file, folder));
    if (alone !== undefined) {
      for (const { specifier } of imports) {
        if (!within(specifier, alone) && !standaloneMayImport.includes(specifier)) {
          problems.push(`${file} imports ${specifier}: ${alone} stands alone (HTTP only)`);
        }
      }
      continue;
    }
    if (isTestSupport(file)) continue;
    const from = layerIndex(file, layers);
    if (from === undefined) {
      problems.push(
        `${file} is in no layer: add its folder to LAYERS in test/tools/layering.ts ` +
          "(and to the README's Layout)",
      );
      continue;
    }
    for (const { specifier } of imports) {
      if (isTestSupport(specifier)) {
        problems.push(`${file} imports test support ${specifier}: production code may not`);
        continue;
      }
      const to = layerIndex(specifier, layers);
      if (to !== undefined && to > from) {
        const fromName = layers[from]?.name ?? "?";
        const toName = layers[to]?.name ?? "?";
        problems.push(
          `${file} (${fromName}) imports ${specifier} (${toName}), a layer above it: ` +
            "move the shared type or function down, or pass it in as a parameter",
        );
      }
    }
  }
  return problems.sort();
}

/**
 * The import cycles between files, each as the files around it (the first one repeated at the
 * end), found as the strongly connected components of the graph (Tarjan's algorithm).
 */
export function importCycles(graph: ImportGraph): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const targets = (file: string): string[] =>
    (graph.get(file) ?? []).map((i) => i.specifier).filter((f) => graph.has(f));

  // Iterative, so that a long chain of imports cannot overflow the call stack.
  for (const root of graph.keys()) {
    if (index.has(root)) continue;
    const work: { file: string; next: number }[] = [{ file: root, next: 0 }];
    index.set(root, counter);
    low.set(root, counter);
    counter += 1;
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const frame = work[work.length - 1];
      if (frame === undefined) break;
      const edges = targets(frame.file);
      if (frame.next < edges.length) {
        const target = edges[frame.next] ?? "";
        frame.next += 1;
        if (!index.has(target)) {
          index.set(target, counter);
          low.set(target, counter);
          counter += 1;
          stack.push(target);
          onStack.add(target);
          work.push({ file: target, next: 0 });
        } else if (onStack.has(target)) {
          low.set(frame.file, Math.min(low.get(frame.file) ?? 0, index.get(target) ?? 0));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent !== undefined) {
        low.set(parent.file, Math.min(low.get(parent.file) ?? 0, low.get(frame.file) ?? 0));
      }
      if (low.get(frame.file) === index.get(frame.file)) {
        const component: string[] = [];
        for (;;) {
          const member = stack.pop();
          if (member === undefined) break;
          onStack.delete(member);
          component.push(member);
          if (member === frame.file) break;
        }
        const selfLoop = component.length === 1 && targets(frame.file).includes(frame.file);
        if (component.length > 1 || selfLoop) components.push(component);
      }
    }
  }
  return components.map((component) => cyclePath(component, targets)).sort();
}

/** One cycle through a strongly connected component, starting at its first file by name. */
function cyclePath(component: string[], targets: (file: string) => string[]): string[] {
  const members = new Set(component);
  const start = [...component].sort()[0] ?? "";
  // Breadth-first from start back to start, inside the component: the shortest cycle.
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const file = queue.shift() ?? "";
    for (const target of targets(file)) {
      if (!members.has(target)) continue;
      if (target === start) {
        const cycle = [start];
        for (let at: string | undefined = file; at !== undefined && at !== start;) {
          cycle.splice(1, 0, at);
          at = previous.get(at);
        }
        cycle.push(start);
        return cycle;
      }
      if (!previous.has(target)) {
        previous.set(target, file);
        queue.push(target);
      }
    }
  }
  return [...component, start];
}

function listTypeScript(root: string, folder: string): string[] {
  const files: string[] = [];
  const walk = (relative: string): void => {
    const absolute = path.join(root, relative);
    if (!fs.existsSync(absolute)) return;
    for (const entry of fs.readdirSync(absolute, { withFileTypes: true })) {
      const child = path.posix.join(relative, entry.name);
      if (entry.isDirectory()) walk(child);
      else if (/\.tsx?$/.test(entry.name) && !entry.name.endsWith(".d.ts")) files.push(child);
    }
  };
  walk(folder);
  return files;
}

/** The import graph of the tree's own TypeScript files (packages left out). */
export function scanTree(root: string): ImportGraph {
  const files = SCANNED.flatMap((folder) => listTypeScript(root, folder));
  const known = new Set(files);
  const graph: ImportGraph = new Map();
  for (const file of files) {
    const text = fs.readFileSync(path.join(root, file), "utf8");
    const imports: Import[] = [];
    for (const found of readImports(file, text)) {
      const target = resolveImport(file, found.specifier, (f) => known.has(f));
      if (target !== undefined) imports.push({ specifier: target, typeOnly: found.typeOnly });
    }
    graph.set(file, imports);
  }
  return graph;
}

/** Everything wrong with the tree's dependencies, one line each; empty when it holds. */
export function checkTree(root: string): string[] {
  const graph = scanTree(root);
  return [
    ...layerViolations(graph),
    ...importCycles(graph).map((cycle) => `import cycle: ${cycle.join(" -> ")}`),
  ];
}

if (process.argv[1] !== undefined && /layering\.js$/.test(process.argv[1])) {
  const { repoRoot } = await import("../lab/repo.js");
  const problems = checkTree(repoRoot);
  for (const problem of problems) console.error(problem);
  if (problems.length > 0) process.exit(1);
  console.log("layering holds: no import against the layers, no import cycle");
}
