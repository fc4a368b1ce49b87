// Copy buttons (the page works without this script: the values are selectable text).
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  const text = source.value !== undefined ? source.value : source.textContent;
  navigator.clipboard.writeText(text).then(() => {
    button.textContent = "Copied";
  }, () => {
    if (source.select) source.select();
  });
});
