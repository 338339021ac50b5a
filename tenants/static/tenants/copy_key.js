// Copy the freshly issued API key (shown once) to the clipboard. An external file, not inline
// script, so a strict Content-Security-Policy can forbid inline scripts.
(function () {
  var button = document.getElementById("copy-key");
  if (!button) return;
  button.addEventListener("click", function () {
    var text = document.getElementById(button.dataset.target).textContent.trim();
    var status = document.getElementById("copy-status");
    function done(ok) { status.textContent = ok ? "Copied." : "Select the key and copy it by hand."; }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(false); });
    } else {
      var range = document.createRange();
      range.selectNodeContents(document.getElementById(button.dataset.target));
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      done(ok);
    }
  });
})();
