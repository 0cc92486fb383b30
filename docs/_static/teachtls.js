// teachtls documentation: a "full size" button on diagrams too wide for the column.
//
// The figures are inline SVG drawn by the teachtls Sphinx extension, scaled
// down to the text column. For a wide one (a sequence diagram with its key
// schedule, a state chart) the button toggles its natural size; the frame
// then scrolls sideways.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll(".teachtls-figure").forEach(function (figure) {
    var svg = figure.querySelector("svg");
    if (!svg || !svg.width || !svg.width.baseVal) {
      return;
    }
    var naturalWidth = svg.width.baseVal.value;
    if (naturalWidth <= figure.clientWidth * 1.05) {
      return; // already shown at (almost) its natural size
    }
    var button = document.createElement("button");
    button.type = "button";
    button.className = "teachtls-zoom";
    button.textContent = "full size";
    button.addEventListener("click", function () {
      var full = figure.classList.toggle("teachtls-full-size");
      button.textContent = full ? "fit to page" : "full size";
    });
    figure.appendChild(button);
  });
});
