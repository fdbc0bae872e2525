const http = require("http");
const fs = require("fs");
const path = require("path");

http
  .createServer((req, res) => {
    const file = req.url === "/" ? "index.html" : req.url.slice(1);
    fs.readFile(path.join(__dirname, "..", "build", file), (err, data) => {
      res.statusCode = err ? 404 : 200;
      res.end(err ? "not found" : data);
    });
  })
  .listen(process.env.PORT || 3000);
