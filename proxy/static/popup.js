// The pop-up sign-in's result page (Portcullis): tells the window that
// opened it how the sign-in ended, for Portcullis's own origin only, then
// closes. Opened without an opener (a tab, a blocked pop-up's fallback), a
// successful sign-in goes on to where it was started for.
(function () {
  "use strict";
  var el = document.getElementById("portcullis-popup");
  if (!el) {
    return;
  }
  var result;
  try {
    result = JSON.parse(el.getAttribute("data-result"));
  } catch (e) {
    return;
  }
  var origin = el.getAttribute("data-origin");
  var opener = window.opener;
  if (opener && opener !== window && origin) {
    // The browser delivers this only when the opener's origin is ours.
    opener.postMessage(result, origin);
    window.close();
    return;
  }
  if (result && result.ok) {
    window.location.replace(el.getAttribute("data-return") || "/");
  }
})();
