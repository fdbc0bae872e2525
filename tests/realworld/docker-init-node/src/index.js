const express = require("express");
const { v4: uuid } = require("uuid");

const app = express();
const items = [];

app.use(express.json());
app.get("/items", (req, res) => res.send(items));
app.post("/items", (req, res) => {
  const item = { id: uuid(), name: req.body.name, completed: false };
  items.push(item);
  res.send(item);
});

app.listen(3000, () => console.log("Listening on port 3000"));
