/**
 * The files every new connector project has, whatever its protocol:
 * package.json, tsconfig, Dockerfile, README and .gitignore.
 */
export type ProjectFiles = Record<string, string>;

export interface ProjectOptions {
  name: string;
  protocol: "capture" | "materialize";
  /** The dependency spec of tributary: a version range or a file: path. */
  tributary: string;
  /** Versions of the dev tools, as this package uses them. */
  devDependencies: Record<string, string>;
}

export function commonFiles(o: ProjectOptions): ProjectFiles {
  const previewArgs = o.protocol === "capture" ? "--source flow.yaml" : "--source flow.yaml --fixture fixture.jsonl";
  const pkg = {
    name: o.name,
    version: "0.1.0",
    private: true,
    type: "module",
    scripts: {
      build: "tsc -p tsconfig.json",
      dev: "tsc -p tsconfig.json --watch --preserveWatchOutput",
      test: "tsc -p tsconfig.json && vitest run",
      preview: `tsc -p tsconfig.json && tributary preview ${previewArgs}`,
      serve: "tributary serve ./dist/connector.js",
    },
    engines: { node: ">=20" },
    dependencies: { tributary: o.tributary },
    devDependencies: o.devDependencies,
  };
  const tsconfig = {
    compilerOptions: {
      target: "ES2022",
      module: "NodeNext",
      moduleResolution: "NodeNext",
      lib: ["ES2023"],
      types: ["node"],
      outDir: "dist",
      rootDir: "src",
      strict: true,
      skipLibCheck: true,
      incremental: true,
      tsBuildInfoFile: "dist/.tsbuildinfo",
      sourceMap: true,
    },
    include: ["src/**/*.ts"],
  };
  const dockerfile = `# The connector image. Build the project first (npm run build), then:
#   docker build -t ghcr.io/<org>/${o.name}:dev .
FROM node:20-slim
WORKDIR /app
COPY package.json package-lock.json* ./
RUN npm ci --omit=dev || npm install --omit=dev
COPY dist/ ./dist/
ENV PATH=/app/node_modules/.bin:$PATH
# Flow's runtime reads these labels to choose how to speak to the connector.
LABEL FLOW_RUNTIME_PROTOCOL=${o.protocol}
LABEL FLOW_RUNTIME_CODEC=proto
ENTRYPOINT ["tributary", "run", "/app/dist/connector.js"]
`;
  const kind = o.protocol === "capture" ? "capture" : "materialization";
  const readme = `# ${o.name}

A Flow ${kind} connector written with [Tributary](https://github.com/tributary-dev/tributary).

| Command | What it does |
| --- | --- |
| \`npm run build\` | compiles \`src/\` into \`dist/\` |
| \`npm run dev\` | recompiles on every change (\`tsc --watch\`, incremental) |
| \`npm test\` | builds, then runs \`test/\` with vitest; the tests drive the connector through \`tributary/testing\` as Flow's runtime would${o.protocol === "materialize" ? ", including a crash in the middle of a commit" : ", including a restart in the middle of a run"} |
| \`npm run preview\` | builds, then runs \`tributary preview ${previewArgs}\` and prints ${o.protocol === "capture" ? "the captured documents" : "the outcome"} |
| \`npm run serve\` | serves the connector over gRPC on 127.0.0.1:9000 |

The connector lives in \`src/connector.ts\`; its default export is what
\`tributary run ./dist/connector.js\` speaks the protocol for. \`flow.yaml\` is a
catalog naming it as a local command${o.protocol === "materialize" ? " and `fixture.jsonl` holds the documents of two transactions" : ""}.

## Image

\`\`\`sh
npm run build
docker build -t ghcr.io/<org>/${o.name}:dev .
\`\`\`

The image runs \`tributary run /app/dist/connector.js\` and carries the
\`FLOW_RUNTIME_PROTOCOL=${o.protocol}\` and \`FLOW_RUNTIME_CODEC=proto\` labels Flow
reads. Push it and name it in a catalog as \`connector: {image: ghcr.io/<org>/${o.name}:dev}\`.
`;
  return {
    "package.json": JSON.stringify(pkg, null, 2) + "\n",
    "tsconfig.json": JSON.stringify(tsconfig, null, 2) + "\n",
    Dockerfile: dockerfile,
    "README.md": readme,
    ".gitignore": "node_modules/\ndist/\ndestination.json\n",
    ".dockerignore": "node_modules/\n",
    // Tests start connector processes: allow for a busy machine.
    "vitest.config.ts": 'import { defineConfig } from "vitest/config";\n\nexport default defineConfig({ test: { testTimeout: 60_000 } });\n',
  };
}
