// Import form: while a (possibly large) file uploads, say so and prevent a second submit.
const form = document.querySelector("form[data-import-form]");
if (form) {
  form.addEventListener("submit", () => {
    const button = form.querySelector("button[data-busy-label]");
    const status = form.querySelector(".import-status");
    if (button) {
      button.disabled = true;
      button.textContent = button.dataset.busyLabel;
      if (status) status.textContent = button.dataset.busyLabel;
    }
  });
}
