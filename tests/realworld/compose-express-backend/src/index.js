const app = require("./server");

const port = process.env.PORT || 8080;
const server = app.listen(port, () => console.info(`Webserver is ready on ${port}`));

function shutdown() {
  server.close(() => process.exit(0));
}
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
