// portcullis.js: sign-in without leaving the page, for single-page apps
// behind Portcullis. Load it from Portcullis itself:
//   <script src="/oauth2/portcullis.js"></script>
// No dependencies, no inline code, no eval: it works under
// Content-Security-Policy: script-src 'self'.
(function (window, document) {
  "use strict";
  var script = document.currentScript;
  // Where Portcullis's endpoints are: beside this script (PROXY_PREFIX).
  var prefix = (script && script.src ? script.src : window.location.origin + "/oauth2/portcullis.js")
    .replace(/\/portcullis\.js(?:[?#].*)?$/, "");
  var origin = new URL(prefix, window.location.href).origin;
  var pending = null;

  function get(path) {
    return window.fetch(prefix + path, {
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-Requested-With": "portcullis.js" }
    });
  }

  // unauthenticated resolves to Portcullis's 401 answer, or null for any
  // other response.
  function unauthenticated(res) {
    var type = res.headers.get("Content-Type") || "";
    if (res.status !== 401 || type.indexOf("json") < 0) {
      return Promise.resolve(null);
    }
    return res.clone().json().then(function (body) {
      return body && body.error === "unauthenticated" ? body : null;
    }, function () {
      return null;
    });
  }

  // ours resolves a sign-in URL from a 401 answer when it is on
  // Portcullis's own origin, else fallback: any API the app calls can
  // answer 401, and none may send this window (or the pop-up) elsewhere.
  function ours(u, fallback) {
    try {
      var url = new URL(u, window.location.href);
      if (u && url.origin === origin) {
        return url;
      }
    } catch (e) {}
    return new URL(fallback, window.location.href);
  }

  // fullPage signs in in this window, coming back to this very URL.
  function fullPage(info) {
    var u = ours(info && info.sign_in_url, prefix + "/sign_in");
    u.searchParams.set("rd", window.location.href);
    u.searchParams.delete("mode");
    window.location.assign(u.href);
  }

  // signIn opens the pop-up sign-in and resolves when it has succeeded.
  // A blocked pop-up falls back to a full-page sign-in (the promise then
  // never settles: the page is left).
  function signIn(info) {
    if (pending) {
      return pending;
    }
    var url = ours(info && info.popup_url, prefix + "/sign_in?mode=popup");
    if (!url.searchParams.has("rd")) {
      url.searchParams.set("rd", window.location.href);
    }
    var popup = window.open(url.href, "portcullis-sign-in", "popup,width=480,height=640");
    if (!popup) {
      fullPage(info);
      return new Promise(function () {});
    }
    pending = new Promise(function (resolve, reject) {
      var timer, settled = false;
      function done(err, result) {
        if (settled) {
          return;
        }
        settled = true;
        window.removeEventListener("message", onMessage);
        window.clearInterval(timer);
        pending = null;
        if (err) {
          reject(err);
        } else {
          resolve(result);
        }
      }
      function onMessage(ev) {
        var d = ev.data;
        if (ev.origin !== origin || ev.source !== popup || !d || d.type !== "portcullis:sign-in") {
          return;
        }
        if (d.ok) {
          done(null, d);
        } else {
          done(new Error(d.error || "sign-in failed"));
        }
      }
      window.addEventListener("message", onMessage);
      // Closed without a word (its message may still be on its way): the
      // user gave up, or the message was lost.
      timer = window.setInterval(function () {
        if (!popup.closed) {
          return;
        }
        window.clearInterval(timer);
        window.setTimeout(function () {
          if (settled) {
            return;
          }
          session().then(function (s) {
            if (s.signed_in) {
              done(null, { type: "portcullis:sign-in", ok: true, user: s.user });
            } else {
              done(new Error("the sign-in window was closed"));
            }
          }, done);
        }, 1000);
      }, 500);
    });
    return pending;
  }

  // pfetch is fetch, but a 401 from Portcullis opens the pop-up sign-in
  // and, once it succeeds, sends the request again (once).
  function pfetch(input, init) {
    var again = typeof Request !== "undefined" && input instanceof Request ? input.clone() : input;
    return window.fetch(input, init).then(function (res) {
      return unauthenticated(res).then(function (info) {
        if (!info) {
          return res;
        }
        return signIn(info).then(function () {
          return window.fetch(again, init);
        });
      });
    });
  }

  // session resolves to /session's answer; {signed_in: false, …} without one.
  function session() {
    return get("/session").then(function (res) {
      if (res.status === 401) {
        return res.json().then(function (body) {
          body.signed_in = false;
          return body;
        });
      }
      if (!res.ok) {
        throw new Error("portcullis: /session answered " + res.status);
      }
      return res.json();
    });
  }

  // token resolves to /token's answer (EXPOSE_ACCESS_TOKEN=true), signing
  // in first when needed.
  function token() {
    return pfetch(prefix + "/token", {
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-Requested-With": "portcullis.js" }
    }).then(function (res) {
      if (!res.ok) {
        throw new Error("portcullis: /token answered " + res.status);
      }
      return res.json();
    });
  }

  // signOut ends the session in the background (a same-origin POST to
  // sign_out); the page stays.
  function signOut() {
    return window.fetch(prefix + "/sign_out", {
      method: "POST",
      credentials: "same-origin",
      redirect: "manual",
      headers: { "X-Requested-With": "portcullis.js" }
    }).then(function () {});
  }

  window.portcullis = {
    fetch: pfetch,
    session: session,
    token: token,
    signIn: function () { return signIn(null); },
    signOut: signOut
  };
})(window, document);
