/* global React */
function App() {
  return React.createElement("p", null, "Hello from the frontend");
}
if (typeof document !== "undefined") {
  document.getElementById("root").textContent = "Hello from the frontend";
}
