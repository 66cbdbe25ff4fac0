// Inside an embed-only page: tell the host page our height whenever it changes, so that the
// <iframe> follows its content (the snippet's script listens for "mutuelle:height").
(function () {
  "use strict";
  if (window.parent === window) return;
  var last = 0;
  function send() {
    var height = Math.ceil(document.documentElement.scrollHeight);
    if (height === last) return;
    last = height;
    window.parent.postMessage({ type: "mutuelle:height", height: height, href: location.href }, "*");
  }
  if ("ResizeObserver" in window) new ResizeObserver(send).observe(document.documentElement);
  window.addEventListener("load", send);
  send();
})();
