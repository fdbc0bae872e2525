// Stands in for react-scripts build: public/ and the bundled src/ into build/.
const fs = require("fs");
const path = require("path");

const out = path.join(__dirname, "..", "build");
fs.mkdirSync(path.join(out, "static", "js"), { recursive: true });
fs.copyFileSync(path.join(__dirname, "..", "public", "index.html"), path.join(out, "index.html"));
const parts = [
  require.resolve("react/cjs/react.production.min.js"),
  require.resolve("react-dom/cjs/react-dom-server.browser.production.min.js"),
  path.join(__dirname, "..", "src", "index.js"),
];
fs.writeFileSync(
  path.join(out, "static", "js", "main.js"),
  parts.map((p) => fs.readFileSync(p, "utf8")).join("\n;\n")
);
