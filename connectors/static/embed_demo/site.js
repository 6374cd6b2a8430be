// The demo bank site's own script: after the customer signs in to the site, the site mints a customer
// token (as the REST channel's integrations do) and hands it to the chat with the documented call.
(function () {
  "use strict";
  var chat = (window.DemoBankChat = window.DemoBankChat || []);
  var who = document.getElementById("who");
  var signInButton = document.getElementById("sign-in");
  var signOutButton = document.getElementById("sign-out");

  function show(name) {
    who.textContent = name ? "Вы: " + name : "Вы не вошли";
    signInButton.hidden = !!name;
    signOutButton.hidden = !name;
  }

  function signedIn(body) {
    show(body.name);
    (window.DemoBankChat || chat).push(["signIn", body.customer_token]);
  }

  // A signed-in visitor of the site: the token is fetched on every page load and passed to the chat again.
  fetch("/session").then(function (resp) { return resp.json(); }).then(function (body) {
    if (body.customer_token) signedIn(body); else show(null);
  });
  signInButton.addEventListener("click", function () {
    fetch("/session", { method: "POST" }).then(function (resp) { return resp.json(); }).then(signedIn);
  });
  signOutButton.addEventListener("click", function () {
    fetch("/session", { method: "DELETE" }).then(function () {
      show(null);
      (window.DemoBankChat || chat).push(["signOut"]);
    });
  });
})();
